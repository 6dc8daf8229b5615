// Writes a small learnable fake MNIST folder (IDX files, 28×28 and 10 classes unless given) for
// the shell-level tests: make_fake_mnist DIR TRAIN_IMAGES TEST_IMAGES [ROWS COLS CLASSES]
#include <cstdio>
#include <cstdlib>

#include "support.hpp"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 7) {
    std::fprintf(stderr, "usage: make_fake_mnist DIR TRAIN_IMAGES TEST_IMAGES [ROWS COLS CLASSES]\n");
    return 2;
  }
  auto number = [&](int i) { return std::strtoul(argv[i], nullptr, 10); };
  if (argc == 4)
    ptrain::test::write_fake_mnist(argv[1], number(2), number(3), 11);
  else
    ptrain::test::write_fake_mnist(argv[1], number(2), number(3), 11, static_cast<std::uint32_t>(number(4)),
                                   static_cast<std::uint32_t>(number(5)), static_cast<int>(number(6)));
  return 0;
}
