// The doctest main of every test binary: prints, once, why GPU tests are skipped when no device answers.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <fmt/core.h>

#include "tensor/device.h"

int main(int argc, char** argv) {
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  if (!agf::cuda_available()) fmt::print("GPU tests skipped: {}\n", agf::cuda_unavailable_reason());
  return ctx.run();
}
