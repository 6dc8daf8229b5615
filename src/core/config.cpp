#include "ptrain/core/config.hpp"

#include <algorithm>
#include <thread>

#include "ptrain/core/text_parsers.hpp"

namespace ptrain {

int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string default_data_dir() { return PTRAIN_DEFAULT_DATA_DIR; }

std::string NetSpec::describe() const { return format_sizes(sizes, '-'); }

bool net_from_data(const TrainConfig& c) {
  return !c.explicit_options.count("layers") && c.resume.empty() && c.init_from.empty();
}

}  // namespace ptrain
