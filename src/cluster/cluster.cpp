#include "ptrain/cluster/cluster.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "ptrain/core/errors.hpp"

namespace ptrain {

void Cluster::gather(std::span<const float> mine, std::span<float> all, std::span<const int> counts) {
  (void)counts;
  std::copy(mine.begin(), mine.end(), all.begin());
}

void Cluster::abort(int exit_code) { std::_Exit(exit_code); }

int exit_code_of(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const AgreedFailure& f) {
    return exit_code_of(f.failure);
  } catch (const SilentFailure& f) {
    return f.exit_code;
  } catch (const Interrupted& e) {
    return 128 + e.signal;
  } catch (const UsageError&) {
    return 2;
  } catch (...) {
    return 1;
  }
}

void fail_together(Cluster& cluster, std::exception_ptr failure) {
  if (cluster.size() == 1) std::rethrow_exception(failure);
  if (cluster.leader()) throw AgreedFailure{failure};
  throw SilentFailure{exit_code_of(failure)};
}

void all_or_none(Cluster& cluster, const std::function<void()>& part) {
  std::exception_ptr failure;
  try {
    part();
  } catch (...) {
    failure = std::current_exception();
  }
  if (cluster.size() == 1) {
    if (failure) std::rethrow_exception(failure);
    return;
  }
  const std::vector<std::uint64_t> codes =
      cluster.gather(failure ? static_cast<std::uint64_t>(exit_code_of(failure)) : 0);
  const auto first = std::find_if(codes.begin(), codes.end(), [](std::uint64_t c) { return c != 0; });
  if (first == codes.end()) return;
  if (first - codes.begin() == cluster.rank()) throw AgreedFailure{failure};
  throw SilentFailure{static_cast<int>(*first)};
}

}  // namespace ptrain
