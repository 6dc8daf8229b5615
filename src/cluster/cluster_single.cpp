// join_cluster of a build without MPI: always one process.
#include "ptrain/cluster/cluster.hpp"

namespace ptrain {

std::unique_ptr<Cluster> join_cluster(int& argc, char**& argv) {
  (void)argc;
  (void)argv;
  return std::make_unique<Cluster>();
}

}  // namespace ptrain
