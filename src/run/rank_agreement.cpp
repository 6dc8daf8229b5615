#include "ptrain/run/rank_agreement.hpp"

#include <algorithm>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/network.hpp"
#include "ptrain/run/stop_signal.hpp"

namespace ptrain {

std::vector<std::uint64_t> RankAgreement::equal_weights(std::span<const float> parameters, const std::string& when,
                                                        const std::string& why) {
  const std::vector<std::uint64_t> all = cluster_.gather(weights_hash(parameters));
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      fail_together(cluster_,
                    std::make_exception_ptr(DataError("the ranks' weights differ " + when +
                                                      ": rank 0 has weights_hash " + hash_hex(all[0]) + ", rank " +
                                                      std::to_string(r) + " has " + hash_hex(all[r]) + "; " + why)));
  return all;
}

int RankAgreement::stop_signal(std::uint64_t steps) {
  if (cluster_.size() == 1) return StopOnSignal::requested();
  if (steps % 16 != 0) return 0;
  const std::vector<std::uint64_t> all = cluster_.gather(static_cast<std::uint64_t>(StopOnSignal::requested()));
  return static_cast<int>(*std::max_element(all.begin(), all.end()));
}

}  // namespace ptrain
