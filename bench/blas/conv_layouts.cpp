// oneDNN's float32 convolutions on the engine's shapes, per memory layout: the plain (B, C, T) layout the engine
// keeps (oneDNN runs its GEMM-based kernels on it), time-major (B, T, C), where its direct kernels run (the engine's
// channels-last route, src/kernels/cpu/conv1d_onednn.cpp), and the blocked layout oneDNN picks itself (`any`); and
// what a reorder between the plain and time-major layouts costs, which the channels-last route pays per call. For
// each (shape, layout, pass): the implementation oneDNN chose and the best time of the repetitions. Every pass is
// checked against a float64 reference on sampled entries, so a fast wrong kernel cannot win.
//
//   g++ -std=c++20 -O2 -Wall -o /tmp/conv_layouts bench/blas/conv_layouts.cpp -ldnnl && /tmp/conv_layouts
//
// Options: --reps N (timed repetitions per cell, default 5), --only SUBSTRING (shapes whose name contains it).
// OMP_NUM_THREADS sets the threads (the engine's apps use every core).
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

struct Shape {
  const char* name;
  int64_t batch, cin, cout, t, k, stride;
};

// The EcgNet convolutions of the side-by-side benchmark's configurations (inputs of 4096 samples).
const Shape kShapes[] = {
    {"tinylight block0 conv1 (12->64, s4)", 32, 12, 64, 4096, 9, 4},
    {"tinylight conv2 at T=1024", 32, 64, 64, 1024, 9, 1},
    {"tinylight conv1 s4, T=1024->256", 32, 64, 64, 1024, 9, 4},
    {"tinylight conv2 at T=256", 32, 64, 64, 256, 9, 1},
    {"tinylight conv2 at T=64", 32, 64, 64, 64, 9, 1},
    {"tiny/light conv2 at T=1024 (128 ch)", 32, 128, 128, 1024, 9, 1},
    {"base conv2 at T=256 (256 ch)", 32, 256, 256, 256, 9, 1},
    {"medium block0 conv1 (12->512, s4)", 16, 12, 512, 4096, 9, 4},
    {"medium conv2 at T=1024", 16, 512, 512, 1024, 9, 1},
    {"medium conv1 s4, T=1024->256", 16, 512, 512, 1024, 9, 4},
    {"medium conv2 at T=256", 16, 512, 512, 256, 9, 1},
    {"medium conv2 at T=64", 16, 512, 512, 64, 9, 1},
};

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename F>
double best_ms(int reps, F&& f) {
  f();  // warm-up (and the JIT)
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_ms();
    f();
    best = std::min(best, now_ms() - t0);
  }
  return best;
}

// A memory of descriptor d filled with the logical (n, c, 1, w) values of `plain` (a dense nchw array), by a reorder.
dnnl::memory filled(const memory::desc& d, const std::vector<float>& plain, const memory::dims& dims) {
  dnnl::stream s(eng());
  memory src(memory::desc(dims, memory::data_type::f32, Tag::nchw), eng(), const_cast<float*>(plain.data()));
  memory m(d, eng());
  dnnl::reorder(src, m).execute(s, src, m);
  s.wait();
  return m;
}

std::vector<float> to_plain(const memory& m, const memory::dims& dims) {
  std::vector<float> out(static_cast<size_t>(dims[0] * dims[1] * dims[2] * dims[3]));
  dnnl::stream s(eng());
  memory dst(memory::desc(dims, memory::data_type::f32, Tag::nchw), eng(), out.data());
  dnnl::reorder(const_cast<memory&>(m), dst).execute(s, const_cast<memory&>(m), dst);
  s.wait();
  return out;
}

std::vector<float> random_values(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

struct Reference {
  const Shape& s;
  int64_t pad, t_out;
  const std::vector<float>&x, &w, &gy;
  double y(int64_t b, int64_t o, int64_t t) const {
    double acc = 0;
    for (int64_t c = 0; c < s.cin; ++c)
      for (int64_t j = 0; j < s.k; ++j) {
        const int64_t ti = t * s.stride - pad + j;
        if (ti >= 0 && ti < s.t) acc += double(x[(b * s.cin + c) * s.t + ti]) * w[(o * s.cin + c) * s.k + j];
      }
    return acc;
  }
  double gx(int64_t b, int64_t c, int64_t ti) const {
    double acc = 0;
    for (int64_t o = 0; o < s.cout; ++o)
      for (int64_t j = 0; j < s.k; ++j) {
        const int64_t num = ti + pad - j;
        if (num % s.stride != 0) continue;
        const int64_t t = num / s.stride;
        if (t >= 0 && t < t_out) acc += double(gy[(b * s.cout + o) * t_out + t]) * w[(o * s.cin + c) * s.k + j];
      }
    return acc;
  }
  double gw(int64_t o, int64_t c, int64_t j) const {
    double acc = 0;
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t t = 0; t < t_out; ++t) {
        const int64_t ti = t * s.stride - pad + j;
        if (ti >= 0 && ti < s.t) acc += double(gy[(b * s.cout + o) * t_out + t]) * x[(b * s.cin + c) * s.t + ti];
      }
    return acc;
  }
};

// Largest error of 64 sampled entries of `got` (dense, dims d0 x d1 x d2) against ref(i0, i1, i2), over the largest
// reference magnitude sampled.
template <typename Ref>
double sampled_error(const std::vector<float>& got, int64_t d0, int64_t d1, int64_t d2, Ref&& ref) {
  std::mt19937 gen(7);
  double err = 0, scale = 1e-30;
  for (int i = 0; i < 64; ++i) {
    const int64_t a = gen() % d0, b = gen() % d1, c = gen() % d2;
    const double r = ref(a, b, c);
    err = std::max(err, std::abs(got[(a * d1 + b) * d2 + c] - r));
    scale = std::max(scale, std::abs(r));
  }
  return err / scale;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--only SUBSTRING]\n", argv[0]);
      return 2;
    }
  }
  const char* threads = std::getenv("OMP_NUM_THREADS");
  std::printf("oneDNN %d.%d.%d, OMP_NUM_THREADS=%s, best of %d; ms per pass (implementation)\n\n",
              dnnl::version()->major, dnnl::version()->minor, dnnl::version()->patch, threads ? threads : "unset",
              reps);
  std::printf("| shape | layout | forward | backward input | backward weight | "
              "reorder x, y (plain <-> time-major) |\n");
  std::printf("|---|---|---|---|---|---|\n");
  bool all_right = true;
  for (const Shape& s : kShapes) {
    if (!only.empty() && std::string(s.name).find(only) == std::string::npos) continue;
    const int64_t pad = s.k / 2, t_out = (s.t + 2 * pad - s.k) / s.stride + 1;
    const memory::dims xd{s.batch, s.cin, 1, s.t}, yd{s.batch, s.cout, 1, t_out}, wd{s.cout, s.cin, 1, s.k};
    const auto x = random_values(size_t(s.batch * s.cin * s.t), 1);
    const auto w = random_values(size_t(s.cout * s.cin * s.k), 2);
    const auto gy = random_values(size_t(s.batch * s.cout * t_out), 3);
    const Reference ref{s, pad, t_out, x, w, gy};
    for (const Tag tag : {Tag::nchw, Tag::nhwc, Tag::any}) {
      const char* layout = tag == Tag::nchw ? "plain (B, C, T)" : tag == Tag::nhwc ? "time-major (B, T, C)" : "blocked";
      // The plain layout with plain weights is what the engine hands oneDNN; the others let it pick the weights'.
      const memory::desc xm(xd, memory::data_type::f32, tag), ym(yd, memory::data_type::f32, tag);
      const memory::desc wm(wd, memory::data_type::f32, tag == Tag::nchw ? Tag::oihw : Tag::any);
      const memory::dims strides{1, s.stride}, pads{0, pad};
      using Fwd = dnnl::convolution_forward;
      using BwdD = dnnl::convolution_backward_data;
      using BwdW = dnnl::convolution_backward_weights;
      const Fwd::primitive_desc fpd(Fwd::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                              xm, wm, ym, strides, pads, pads),
                                    eng());
      const BwdD::primitive_desc dpd(BwdD::desc(dnnl::algorithm::convolution_direct, xm, wm, ym, strides, pads, pads),
                                     eng(), fpd);
      const BwdW::primitive_desc wpd(BwdW::desc(dnnl::algorithm::convolution_direct, xm, wm, ym, strides, pads, pads),
                                     eng(), fpd);
      memory X = filled(fpd.src_desc(), x, xd), W = filled(fpd.weights_desc(), w, wd), Y(fpd.dst_desc(), eng());
      memory GY = filled(dpd.diff_dst_desc(), gy, yd), W2 = filled(dpd.weights_desc(), w, wd),
             GX(dpd.diff_src_desc(), eng());
      memory X2 = filled(wpd.src_desc(), x, xd), GY2 = filled(wpd.diff_dst_desc(), gy, yd),
             GW(wpd.diff_weights_desc(), eng());
      dnnl::stream st(eng());
      Fwd f(fpd);
      BwdD d(dpd);
      BwdW bw(wpd);
      const double tf = best_ms(reps, [&] {
        f.execute(st, {{DNNL_ARG_SRC, X}, {DNNL_ARG_WEIGHTS, W}, {DNNL_ARG_DST, Y}});
        st.wait();
      });
      const double td = best_ms(reps, [&] {
        d.execute(st, {{DNNL_ARG_DIFF_DST, GY}, {DNNL_ARG_WEIGHTS, W2}, {DNNL_ARG_DIFF_SRC, GX}});
        st.wait();
      });
      const double tw = best_ms(reps, [&] {
        bw.execute(st, {{DNNL_ARG_SRC, X2}, {DNNL_ARG_DIFF_DST, GY2}, {DNNL_ARG_DIFF_WEIGHTS, GW}});
        st.wait();
      });
      const double ey = sampled_error(to_plain(Y, yd), s.batch, s.cout, t_out, [&](auto a, auto b, auto c) {
        return ref.y(a, b, c);
      });
      const double ex = sampled_error(to_plain(GX, xd), s.batch, s.cin, s.t, [&](auto a, auto b, auto c) {
        return ref.gx(a, b, c);
      });
      const double ew = sampled_error(to_plain(GW, wd), s.cout, s.cin, s.k, [&](auto a, auto b, auto c) {
        return ref.gw(a, b, c);
      });
      const bool right = ey < 1e-4 && ex < 1e-4 && ew < 1e-4;
      all_right = all_right && right;
      std::string reorders = "";
      if (tag == Tag::nhwc) {
        // What the channels-last route adds: x into time-major and y back (the forward's two reorders).
        memory xp(memory::desc(xd, memory::data_type::f32, Tag::nchw), eng(), const_cast<float*>(x.data()));
        memory yp(memory::desc(yd, memory::data_type::f32, Tag::nchw), eng());
        dnnl::reorder rx(xp, X), ry(Y, yp);
        const double trx = best_ms(reps, [&] {
          rx.execute(st, xp, X);
          st.wait();
        });
        const double try_ = best_ms(reps, [&] {
          ry.execute(st, Y, yp);
          st.wait();
        });
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.2f, %.2f", trx, try_);
        reorders = buf;
      }
      std::printf("| %s | %s | %.2f (%s) | %.2f (%s) | %.2f (%s) | %s |%s\n", s.name, layout, tf, fpd.impl_info_str(),
                  td, dpd.impl_info_str(), tw, wpd.impl_info_str(), reorders.c_str(),
                  right ? "" : " WRONG against float64");
    }
  }
  return all_right ? 0 : 1;
}
