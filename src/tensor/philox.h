#pragma once
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC'11), written as
// AGF_HD code so that the CPU loops and the CUDA kernels draw bit-identical integers from (key, counter).
//
// The project's random numbers are pure functions of (seed, index): the perturbation z_i of the SPSA step and
// every initialisation draw are regenerated on demand instead of being stored. The integers are bit-identical on
// every device; the normals go through logf/sinf/cosf, whose last bit may differ between glibc and CUDA's
// libdevice (documented at 1-2 ulp), so CPU and GPU normals agree to a few ulp. `normal(seed, i)` uses Philox
// block i/4 and takes lane i%4, so a kernel that handles 4 consecutive elements makes one Philox call, and any
// other launch shape gets the same values.
#include <cmath>
#include <cstdint>

#include "tensor/hd.h"

namespace agf::philox {

struct U32x4 {
  uint32_t v[4];
};

AGF_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// One Philox4x32 block: 10 rounds over counter `c` with key (k0, k1).
AGF_HD U32x4 philox4x32_10(U32x4 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(kM0, c.v[0], &hi0);
    const uint32_t lo1 = mulhilo32(kM1, c.v[2], &hi1);
    c = U32x4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

// Block `block` of stream `seed`: the 64-bit block index fills counter words 0-1, the seed is the key.
AGF_HD U32x4 block(uint64_t seed, uint64_t block_index) {
  return philox4x32_10(U32x4{{static_cast<uint32_t>(block_index), static_cast<uint32_t>(block_index >> 32), 0u, 0u}},
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in (0, 1]: the top 24 bits, so the float is exact and identical on every device, and never 0 (log-safe).
AGF_HD float u32_to_uniform(uint32_t x) { return static_cast<float>((x >> 8) + 1u) * (1.0f / 16777216.0f); }

// Box-Muller on lanes (0,1) and (2,3): four standard normals from one block.
AGF_HD void normals_from_block(U32x4 r, float out[4]) {
  constexpr float kTwoPi = 6.28318530717958647692f;
  for (int pair = 0; pair < 2; ++pair) {
    const float u1 = u32_to_uniform(r.v[2 * pair]);
    const float u2 = u32_to_uniform(r.v[2 * pair + 1]);
    const float radius = sqrtf(-2.0f * logf(u1));
    const float angle = kTwoPi * u2;
    out[2 * pair] = radius * cosf(angle);
    out[2 * pair + 1] = radius * sinf(angle);
  }
}

// The standard normal at global index i of stream `seed`.
AGF_HD float normal(uint64_t seed, uint64_t i) {
  float z[4];
  normals_from_block(block(seed, i >> 2), z);
  return z[i & 3];
}

// The uniform (0,1] at global index i of stream `seed`.
AGF_HD float uniform(uint64_t seed, uint64_t i) { return u32_to_uniform(block(seed, i >> 2).v[i & 3]); }

}  // namespace agf::philox
