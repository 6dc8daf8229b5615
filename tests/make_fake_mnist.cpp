// Writes a small learnable fake MNIST folder (28×28 IDX files) for the shell-level tests:
// make_fake_mnist DIR TRAIN_IMAGES TEST_IMAGES
#include <cstdio>
#include <cstdlib>

#include "support.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_fake_mnist DIR TRAIN_IMAGES TEST_IMAGES\n");
    return 2;
  }
  ptrain::test::write_fake_mnist(argv[1], std::strtoul(argv[2], nullptr, 10), std::strtoul(argv[3], nullptr, 10), 11);
  return 0;
}
