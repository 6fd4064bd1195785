// Row-major float32 GEMM through three libraries, on the engine's own shapes: OpenBLAS (the library the engine links,
// with the core the engine would choose), BLIS (Debian's libblis, both its OpenMP and its pthread builds) and oneDNN's
// dnnl_sgemm. A bench-time comparison, not part of the Meson build: see bench/blas/README.md.
//
//   g++ -std=c++20 -O2 -Wall -o /tmp/gemm_libs bench/blas/gemm_libs.cpp -ldl
//   env -u OPENBLAS_CORETYPE /tmp/gemm_libs [--threads 2] [--rounds 3] [--reps 7] [--libs openblas,blis,...]
//
// Every library is dlopen()ed with RTLD_LOCAL, so their BLAS symbols (sgemm_, cblas_sgemm, which OpenBLAS and BLIS
// both export) never meet in one link. Each library's thread count is set through its own API: openblas_set_num_threads,
// bli_thread_set_num_threads, omp_set_num_threads (the OpenMP runtime oneDNN and the OpenMP BLIS run on).
//
// OpenBLAS's core is chosen as the engine's apps choose it (apps/app_main.cpp, set_up_cpu_runtime): with
// OPENBLAS_CORETYPE unset, when the CPU's features allow a wider core than OpenBLAS's own pick, OPENBLAS_CORETYPE is
// set to it and the process starts again; a value already set is the user's and is kept. Like the apps,
// OMP_WAIT_POLICY=passive unless set. BLIS_ARCH_TYPE (a sub-configuration name or id) is honoured by BLIS itself.
//
// Per shape and library: one checked sample (C compared with OpenBLAS's over every element, and sampled entries with
// a float64 reference), a warm-up, then --reps timed repetitions (each long enough to time: a sample repeated until
// it has run for 30 ms), the libraries' repetitions interleaved so that other work on the machine slows them alike,
// with a pause after OpenBLAS's (its threads poll for a while after a call). The whole table runs --rounds times; the
// final table keeps, per cell, the best over the rounds of each round's best and of its median. "cores" (CPU seconds
// per wall second while timed) shows how much of the machine a library got: a busy machine gives it less.
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "gemm_libs: %s\n", msg.c_str());
  std::exit(2);
}

void* must_sym(void* h, const char* name, const std::string& lib) {
  void* p = dlsym(h, name);
  if (p == nullptr) die("no symbol " + std::string(name) + " in " + lib);
  return p;
}

// The file a handle was loaded from, links resolved.
std::string loaded_path(void* sym) {
  Dl_info info{};
  if (dladdr(sym, &info) == 0 || info.dli_fname == nullptr) return "?";
  char buf[PATH_MAX];
  return realpath(info.dli_fname, buf) != nullptr ? std::string(buf) : std::string(info.dli_fname);
}

// ------------------------------------------------------------------------------------------------ the engine's core pick
// The same rules as src/kernels/cpu/runtime_info.cpp (blas_core_width, widest_blas_core).
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int blas_core_width(const std::string& core) {
  const std::string name = lower(core);
  for (const char* n : {"skylakex", "cooperlake", "sapphirerapids"})
    if (name == n) return 3;
  for (const char* n : {"haswell", "zen", "excavator"})
    if (name == n) return 2;
  for (const char* n : {"sandybridge", "bulldozer", "piledriver", "steamroller"})
    if (name == n) return 1;
  return 0;
}

std::string widest_blas_core() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
  return "";
}

constexpr const char* kStartedEnv = "GEMM_LIBS_STARTED";
constexpr const char* kPickEnv = "GEMM_LIBS_OPENBLAS_PICK";

// ------------------------------------------------------------------------------------------------ libraries
using GemmFn = void (*)(void* ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                        int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

struct Lib {
  std::string key;    // command-line name
  std::string label;  // table column
  std::string info;   // version, configuration, kernels, threads
  GemmFn gemm = nullptr;
  void* ctx = nullptr;
};

// OpenBLAS (32-bit integers, as Debian builds it).
struct OpenBlas {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  Sgemm sgemm = nullptr;
  static void call(void* ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
    static_cast<OpenBlas*>(ctx)->sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(m), int(n),
                                        int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
  }
};

// BLIS's own typed API: row-major is row stride = leading dimension, column stride 1; trans_t BLIS_TRANSPOSE = 0x8.
struct Blis {
  using Sgemm = void (*)(int, int, int64_t, int64_t, int64_t, const float*, const float*, int64_t, int64_t,
                         const float*, int64_t, int64_t, const float*, float*, int64_t, int64_t);
  Sgemm sgemm = nullptr;
  static void call(void* ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    constexpr int kNoTrans = 0x0, kTrans = 0x8;
    static_cast<Blis*>(ctx)->sgemm(ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, m, n, k, &alpha, a, lda, 1, b, ldb,
                                    1, &beta, c, ldc, 1);
  }
};

// oneDNN's dnnl_sgemm: row-major, 'N'/'T'.
struct Dnnl {
  using Sgemm = int (*)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                        float, float*, int64_t);
  Sgemm sgemm = nullptr;
  static void call(void* ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    const int st = static_cast<Dnnl*>(ctx)->sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta,
                                                   c, ldc);
    if (st != 0) die("dnnl_sgemm returned status " + std::to_string(st));
  }
};

void* open_lib(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) die("dlopen " + path + ": " + dlerror());
  return h;
}

Lib load_openblas(const std::string& path, void* h, int threads) {
  auto* ctx = new OpenBlas;
  ctx->sgemm = reinterpret_cast<OpenBlas::Sgemm>(must_sym(h, "cblas_sgemm", path));
  auto set_threads = reinterpret_cast<void (*)(int)>(must_sym(h, "openblas_set_num_threads", path));
  auto get_threads = reinterpret_cast<int (*)()>(must_sym(h, "openblas_get_num_threads", path));
  auto corename = reinterpret_cast<const char* (*)()>(must_sym(h, "openblas_get_corename", path));
  auto config = reinterpret_cast<const char* (*)()>(must_sym(h, "openblas_get_config", path));
  auto parallel = reinterpret_cast<int (*)()>(must_sym(h, "openblas_get_parallel", path));
  set_threads(threads);
  const char* pick = std::getenv(kPickEnv);
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  std::string who = pick != nullptr ? std::string("chosen as the engine chooses it; OpenBLAS picked ") + pick
                    : user != nullptr ? std::string("from OPENBLAS_CORETYPE=") + user
                                      : std::string("OpenBLAS's own pick, which the engine keeps");
  const int par = parallel();
  std::ostringstream info;
  info << config() << "; core " << corename() << " (" << who << "); " << get_threads() << " threads ("
       << (par == 1 ? "pthreads" : par == 2 ? "OpenMP" : "serial") << "); " << loaded_path(reinterpret_cast<void*>(ctx->sgemm));
  return {"openblas", std::string("OpenBLAS ") + corename(), info.str(), &OpenBlas::call, ctx};
}

Lib load_blis(const std::string& key, const std::string& path, int threads) {
  void* h = open_lib(path);
  auto* ctx = new Blis;
  ctx->sgemm = reinterpret_cast<Blis::Sgemm>(must_sym(h, "bli_sgemm", path));
  auto init = reinterpret_cast<void (*)()>(must_sym(h, "bli_init", path));
  auto set_threads = reinterpret_cast<void (*)(int64_t)>(must_sym(h, "bli_thread_set_num_threads", path));
  auto get_threads = reinterpret_cast<int64_t (*)()>(must_sym(h, "bli_thread_get_num_threads", path));
  auto arch_id = reinterpret_cast<int (*)()>(must_sym(h, "bli_arch_query_id", path));
  auto arch_string = reinterpret_cast<const char* (*)(int)>(must_sym(h, "bli_arch_string", path));
  auto version = reinterpret_cast<const char* (*)()>(must_sym(h, "bli_info_get_version_str", path));
  auto omp = reinterpret_cast<int (*)()>(must_sym(h, "bli_info_get_enable_openmp", path));
  auto pth = reinterpret_cast<int (*)()>(must_sym(h, "bli_info_get_enable_pthreads", path));
  auto int_size = reinterpret_cast<int64_t (*)()>(must_sym(h, "bli_info_get_int_type_size", path));
  init();
  set_threads(threads);
  const std::string runtime = omp() ? "OpenMP" : pth() ? "pthreads" : "serial";
  const std::string arch = arch_string(arch_id());
  const char* forced = std::getenv("BLIS_ARCH_TYPE");
  std::ostringstream info;
  info << "BLIS " << version() << " (" << runtime << ", BLAS integers " << int_size() << "-bit); sub-configuration "
       << arch << (forced != nullptr ? std::string(" (BLIS_ARCH_TYPE=") + forced + ")" : std::string(" (its own pick)"))
       << "; " << get_threads() << " threads; " << loaded_path(reinterpret_cast<void*>(ctx->sgemm));
  return {key, "BLIS " + runtime + " " + arch, info.str(), &Blis::call, ctx};
}

Lib load_dnnl(const std::string& path, int threads) {
  void* h = open_lib(path);
  auto* ctx = new Dnnl;
  ctx->sgemm = reinterpret_cast<Dnnl::Sgemm>(must_sym(h, "dnnl_sgemm", path));
  struct Version {
    int major, minor, patch;
    const char* hash;
    unsigned cpu_runtime, gpu_runtime;
  };
  auto version = reinterpret_cast<const Version* (*)()>(must_sym(h, "dnnl_version", path));
  auto isa = reinterpret_cast<int (*)()>(must_sym(h, "dnnl_get_effective_cpu_isa", path));
  // oneDNN threads through the OpenMP runtime it was built with (Debian: libgomp).
  void* gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
  int omp_threads = -1;
  if (gomp != nullptr) {
    reinterpret_cast<void (*)(int)>(must_sym(gomp, "omp_set_num_threads", "libgomp"))(threads);
    omp_threads = reinterpret_cast<int (*)()>(must_sym(gomp, "omp_get_max_threads", "libgomp"))();
  }
  const Version* v = version();
  const int i = isa();
  const std::map<int, const char*> isa_names = {{0x7, "avx2"},          {0x27, "avx512_core"},
                                                {0x67, "avx512_core_vnni"}, {0xe7, "avx512_core_bf16"},
                                                {0x3e7, "avx512_core_amx"}, {0x407, "avx2_vnni"}};
  const auto it = isa_names.find(i);
  std::ostringstream info;
  info << "oneDNN " << v->major << "." << v->minor << "." << v->patch << " (" << (v->hash ? v->hash : "?")
       << "; CPU runtime " << (v->cpu_runtime == 2 ? "OpenMP" : std::to_string(v->cpu_runtime)) << "); ISA "
       << (it != isa_names.end() ? it->second : "?") << " (0x" << std::hex << i << std::dec << "); "
       << omp_threads << " OpenMP threads; " << loaded_path(reinterpret_cast<void*>(ctx->sgemm));
  return {"dnnl", "oneDNN sgemm", info.str(), &Dnnl::call, ctx};
}

// ------------------------------------------------------------------------------------------------ shapes
// C (m, n) = op(A) op(B), row-major; `count` GEMMs make one sample (the engine's per-record or per-head calls), each on
// its own B and C, A shared when it is a weight. `accumulate`: one C for all, beta 1 after the first call (the
// backward-weight sum over the records of a batch).
struct Shape {
  std::string name;
  bool ta, tb;
  int64_t m, n, k;
  int64_t count = 1;
  bool share_a = false;
  bool accumulate = false;
};

// T = 6144 samples per record: block 0 runs at 1536 steps, block 1 at 384, block 2 at 96 tokens. medium: width 512,
// 16 heads (d 32); tinylight: width 64. conv K = 9, im2col GEMM (src/kernels/cpu/conv1d.cpp): M = Cout, N = T_out,
// K = Cin * 9, one GEMM per record; 1x1 convs are one GEMM on x. Linear (autograd/functions_math.cpp): x @ W^T, rows
// = B * tokens; its weight gradient g^T x.
std::vector<Shape> engine_shapes() {
  return {
      {"medium conv2 block 0, fwd (im2col): W x cols", false, false, 512, 1536, 4608},
      {"medium conv2 block 1, bwd input: W^T gy", true, false, 4608, 384, 512},
      {"medium conv2 block 1, bwd weight: gy cols^T", false, true, 512, 4608, 384},
      {"medium 1x1 skip conv block 1, B=16 (BLAS path today)", false, false, 512, 384, 512, 16, true},
      {"medium fc1, B=16: x W^T", false, true, 1536, 2048, 512},
      {"medium fc2 weight grad, B=16: g^T x", true, false, 512, 2048, 1536},
      {"medium attention q k^T, B=16 x 16 heads", false, true, 96, 96, 32, 256},
      {"tinylight conv2 block 0, fwd (im2col), B=32", false, false, 64, 1536, 576, 32, true},
      {"tinylight conv2 block 0, bwd weight, B=32", false, true, 64, 576, 1536, 32, false, true},
      {"tinylight fc1, B=32: x W^T", false, true, 3072, 256, 64},
      {"square 1024^3", false, false, 1024, 1024, 1024},
      {"square 2048^3", false, false, 2048, 2048, 2048},
  };
}

struct Operands {
  int64_t lda, ldb, ldc, size_a, size_b, size_c;
  std::vector<float> a, b, c;
  const float* A(int64_t i, const Shape& s) const { return a.data() + (s.share_a ? 0 : i * size_a); }
  const float* B(int64_t i) const { return b.data() + i * size_b; }
  float* C(int64_t i, const Shape& s) { return c.data() + (s.accumulate ? 0 : i * size_c); }
};

void fill(std::vector<float>& v, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& f : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    f = static_cast<float>(static_cast<double>(x >> 40) / double(1ull << 24) * 2.0 - 1.0);
  }
}

Operands make_operands(const Shape& s) {
  Operands o;
  o.lda = s.ta ? s.m : s.k;
  o.ldb = s.tb ? s.k : s.n;
  o.ldc = s.n;
  o.size_a = s.m * s.k, o.size_b = s.k * s.n, o.size_c = s.m * s.n;
  o.a.resize(o.size_a * (s.share_a ? 1 : s.count));
  o.b.resize(o.size_b * s.count);
  o.c.assign(o.size_c * (s.accumulate ? 1 : s.count), 0.0f);
  fill(o.a, 1), fill(o.b, 2);
  return o;
}

void sample(const Lib& lib, const Shape& s, Operands& o) {
  for (int64_t i = 0; i < s.count; ++i)
    lib.gemm(lib.ctx, s.ta, s.tb, s.m, s.n, s.k, 1.0f, o.A(i, s), o.lda, o.B(i), o.ldb,
             s.accumulate && i > 0 ? 1.0f : 0.0f, o.C(i, s), o.ldc);
}

// ------------------------------------------------------------------------------------------------ checks
struct Check {
  double vs_ref = 0;     // max |C - C_ref| / max |C_ref|, every element
  double vs_f64 = 0;     // max |C - C_f64| / (|A| |B|)_ij over sampled entries: float rounding is ~1e-7..1e-6
};

double sampled_f64_error(const Shape& s, Operands& o) {
  double worst = 0;
  uint64_t x = 12345;
  const int64_t calls = s.accumulate ? s.count : 1;
  for (int e = 0; e < 64; ++e) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t i = static_cast<int64_t>((x >> 33) % s.m), j = static_cast<int64_t>((x >> 11) % s.n);
    double r = 0, bound = 0;
    for (int64_t c = 0; c < calls; ++c) {
      const float* a = o.A(c, s);
      const float* b = o.B(c);
      for (int64_t p = 0; p < s.k; ++p) {
        const double av = s.ta ? a[p * o.lda + i] : a[i * o.lda + p];
        const double bv = s.tb ? b[j * o.ldb + p] : b[p * o.ldb + j];
        r += av * bv, bound += std::fabs(av * bv);
      }
    }
    const double got = o.C(0, s)[i * o.ldc + j];
    worst = std::max(worst, std::fabs(got - r) / std::max(bound, 1e-30));
  }
  return worst;
}

// ------------------------------------------------------------------------------------------------ timing
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timing {
  double best = 0, median = 0;  // GFLOP/s
  double cores = 0;             // CPU seconds per wall second over the timed repetitions
};

// One shape on every library, the repetitions interleaved (library 1, 2, ..., 1, 2, ...), so that a machine busy
// with other work at times slows every library alike. Each library is warmed up and calibrated first: a timed
// repetition runs as many samples as take 30 ms. After each OpenBLAS repetition a pause: its worker threads keep
// polling for a while after a call (THREAD_TIMEOUT, ~0.1 s) and would take cycles from the next library.
std::vector<Timing> time_shape(const std::vector<const Lib*>& libs, const Shape& s, Operands& o, int reps,
                               int pause_ms, int rotate) {
  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k) * double(s.count);
  const size_t nl = libs.size();
  std::vector<int> inner(nl);
  for (size_t li = 0; li < nl; ++li) {
    sample(*libs[li], s, o);  // warm-up (buffers, packing, thread start)
    const double t0 = now();
    sample(*libs[li], s, o);
    inner[li] = static_cast<int>(std::clamp(std::ceil(0.03 / std::max(now() - t0, 1e-7)), 1.0, 100000.0));
    if (libs[li]->key == "openblas") std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  std::vector<std::vector<double>> rates(nl);
  std::vector<double> cpu(nl, 0.0), wall(nl, 0.0);
  for (int r = 0; r < reps; ++r)
    for (size_t step = 0; step < nl; ++step) {
      const size_t li = (step + static_cast<size_t>(rotate + r)) % nl;  // rotated order
      const double c0 = cpu_seconds(), t0 = now();
      for (int i = 0; i < inner[li]; ++i) sample(*libs[li], s, o);
      const double dt = now() - t0;
      cpu[li] += cpu_seconds() - c0, wall[li] += dt;
      rates[li].push_back(flops * inner[li] / dt * 1e-9);
      if (libs[li]->key == "openblas") std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
  std::vector<Timing> out(nl);
  for (size_t li = 0; li < nl; ++li) {
    std::vector<double>& v = rates[li];
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    out[li] = {v.back(), n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), cpu[li] / wall[li]};
  }
  return out;
}

std::string read_first(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "?";
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string cpu_flags() {
  std::istringstream flags(read_first("/proc/cpuinfo", "flags"));
  std::string f, out;
  while (flags >> f)
    if (f == "avx" || f == "avx2" || f == "fma" || f.rfind("avx512", 0) == 0) out += (out.empty() ? "" : " ") + f;
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep))
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, rounds = 3, reps = 7, pause_ms = 120;
  std::string libs_wanted = "openblas,blis,blis-pthread,dnnl", only;
  std::string openblas_path = "libopenblas.so.0", blis_path = "libblis.so.4",
              blis_pthread_path = "/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4", dnnl_path = "libdnnl.so.2";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--threads") threads = std::stoi(value());
    else if (a == "--rounds") rounds = std::stoi(value());
    else if (a == "--reps") reps = std::stoi(value());
    else if (a == "--pause-ms") pause_ms = std::stoi(value());
    else if (a == "--libs") libs_wanted = value();
    else if (a == "--only") only = value();  // shapes whose name contains this
    else if (a == "--openblas") openblas_path = value();
    else if (a == "--blis") blis_path = value();
    else if (a == "--blis-pthread") blis_pthread_path = value();
    else if (a == "--dnnl") dnnl_path = value();
    else if (a == "-h" || a == "--help") {
      std::printf("gemm_libs [--threads N] [--rounds R] [--reps N] [--pause-ms MS] [--libs openblas,blis,blis-pthread,"
                  "dnnl] [--only SUBSTRING] [--openblas SO] [--blis SO] [--blis-pthread SO] [--dnnl SO]\n");
      return 0;
    } else die("unknown argument " + a);
  }
  if (reps < 5) die("--reps must be at least 5");
  const std::vector<std::string> wanted = split(libs_wanted, ',');
  auto want = [&](const std::string& k) { return std::find(wanted.begin(), wanted.end(), k) != wanted.end(); };

  // The runtime settings, before any library (and libgomp) is loaded; OpenBLAS's core as the engine picks it.
  const std::string t = std::to_string(threads);
  setenv("OMP_NUM_THREADS", t.c_str(), 1);
  setenv("OPENBLAS_NUM_THREADS", t.c_str(), 1);
  setenv("BLIS_NUM_THREADS", t.c_str(), 1);
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) setenv("OMP_WAIT_POLICY", "passive", 1);
  void* openblas = open_lib(openblas_path);  // always: the reference of the checks
  if (std::getenv(kStartedEnv) == nullptr && std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    const char* current = reinterpret_cast<const char* (*)()>(must_sym(openblas, "openblas_get_corename", "OpenBLAS"))();
    const std::string wanted_core = widest_blas_core();
    if (!wanted_core.empty() && blas_core_width(current) < blas_core_width(wanted_core)) {
      setenv("OPENBLAS_CORETYPE", wanted_core.c_str(), 1);
      setenv(kPickEnv, current, 1);
      setenv(kStartedEnv, "1", 1);
      execv("/proc/self/exe", argv);
      die("execv /proc/self/exe failed: the engine would run OpenBLAS's pick " + std::string(current));
    }
  }

  std::vector<Lib> libs;
  libs.push_back(load_openblas(openblas_path, openblas, threads));
  if (want("blis")) libs.push_back(load_blis("blis", blis_path, threads));
  if (want("blis-pthread")) {
    if (access(blis_pthread_path.c_str(), R_OK) == 0) libs.push_back(load_blis("blis-pthread", blis_pthread_path, threads));
    else std::printf("(BLIS pthread build not found at %s: skipped; apt-get install libblis4-pthread)\n",
                     blis_pthread_path.c_str());
  }
  if (want("dnnl")) libs.push_back(load_dnnl(dnnl_path, threads));
  const bool time_openblas = want("openblas");

  std::printf("## gemm_libs\n\n");
  std::printf("- CPU: %s (family %s, model %s), %ld online CPUs; flags: %s\n",
              read_first("/proc/cpuinfo", "model name").c_str(), read_first("/proc/cpuinfo", "cpu family").c_str(),
              read_first("/proc/cpuinfo", "model\t").c_str(), sysconf(_SC_NPROCESSORS_ONLN), cpu_flags().c_str());
  std::printf("- threads %d per library; OMP_WAIT_POLICY=%s; %d rounds x %d timed repetitions (each >= 30 ms)\n",
              threads, std::getenv("OMP_WAIT_POLICY"), rounds, reps);
  for (const Lib& l : libs) std::printf("- %s: %s\n", l.label.c_str(), l.info.c_str());
  std::printf("\n");
  std::fflush(stdout);

  std::vector<Shape> shapes;
  for (const Shape& s : engine_shapes())
    if (only.empty() || s.name.find(only) != std::string::npos) shapes.push_back(s);
  const size_t first_timed = time_openblas ? 0 : 1;  // OpenBLAS stays loaded as the checks' reference
  const size_t nl = libs.size();
  std::vector<std::vector<Timing>> best(shapes.size(), std::vector<Timing>(nl));
  std::vector<std::vector<Check>> checks(shapes.size(), std::vector<Check>(nl));

  for (size_t si = 0; si < shapes.size(); ++si) {
    const Shape& s = shapes[si];
    Operands o = make_operands(s);
    std::vector<float> ref;
    double ref_max = 0;
    for (size_t li = 0; li < nl; ++li) {
      std::fill(o.c.begin(), o.c.end(), 0.0f);
      sample(libs[li], s, o);
      if (li == 0) {
        ref = o.c;
        for (float v : ref) ref_max = std::max(ref_max, double(std::fabs(v)));
      } else {
        double d = 0;
        for (size_t e = 0; e < ref.size(); ++e) d = std::max(d, double(std::fabs(o.c[e] - ref[e])));
        checks[si][li].vs_ref = d / std::max(ref_max, 1e-30);
      }
      checks[si][li].vs_f64 = sampled_f64_error(s, o);
    }
  }

  for (int round = 0; round < rounds; ++round) {
    std::printf("round %d (load average %s)\n", round + 1, loadavg().c_str());
    for (size_t si = 0; si < shapes.size(); ++si) {
      const Shape& s = shapes[si];
      Operands o = make_operands(s);
      std::printf("  %-52s", s.name.c_str());
      std::vector<const Lib*> timed;
      for (size_t li = first_timed; li < nl; ++li) timed.push_back(&libs[li]);
      const std::vector<Timing> got = time_shape(timed, s, o, reps, pause_ms, round + static_cast<int>(si));
      for (size_t j = 0; j < timed.size(); ++j) {
        const size_t li = first_timed + j;
        const Timing& tm = got[j];
        Timing& b = best[si][li];
        b.best = std::max(b.best, tm.best), b.median = std::max(b.median, tm.median);
        b.cores = std::max(b.cores, tm.cores);
        std::printf(" | %s %.1f/%.1f (%.2f cores)", libs[li].key.c_str(), tm.best, tm.median, tm.cores);
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }

  // The table: GFLOP/s, best / median of the repetitions, each the best over the rounds.
  std::printf("\nGFLOP/s, best / median of %d repetitions, each the best of %d rounds; %d threads.\n\n", reps, rounds,
              threads);
  std::printf("| shape | op | M | N | K | calls |");
  for (size_t li = first_timed; li < nl; ++li) std::printf(" %s |", libs[li].label.c_str());
  if (time_openblas)
    for (size_t li = 1; li < nl; ++li) std::printf(" %s / OpenBLAS |", libs[li].key.c_str());
  std::printf("\n|---|---|---:|---:|---:|---:|");
  for (size_t li = first_timed; li < nl; ++li) std::printf("---:|");
  if (time_openblas)
    for (size_t li = 1; li < nl; ++li) std::printf("---:|");
  std::printf("\n");
  for (size_t si = 0; si < shapes.size(); ++si) {
    const Shape& s = shapes[si];
    std::printf("| %s | %s | %ld | %ld | %ld | %ld |", s.name.c_str(),
                s.ta ? "A^T B" : s.tb ? "A B^T" : "A B", s.m, s.n, s.k, s.count);
    for (size_t li = first_timed; li < nl; ++li) std::printf(" %.1f / %.1f |", best[si][li].best, best[si][li].median);
    if (time_openblas)
      for (size_t li = 1; li < nl; ++li) std::printf(" %.2f |", best[si][li].best / best[si][0].best);
    std::printf("\n");
  }

  std::printf("\nSame C to float rounding: max |C - C_OpenBLAS| / max |C_OpenBLAS| over every element; in brackets "
              "max |C - C_f64| / (|A||B|)_ij over 64 sampled entries (float32 rounding: ~1e-7).\n\n| shape |");
  for (size_t li = 0; li < nl; ++li) std::printf(" %s |", libs[li].label.c_str());
  std::printf("\n|---|");
  for (size_t li = 0; li < nl; ++li) std::printf("---:|");
  std::printf("\n");
  bool ok = true;
  for (size_t si = 0; si < shapes.size(); ++si) {
    std::printf("| %s |", shapes[si].name.c_str());
    for (size_t li = 0; li < nl; ++li) {
      const Check& c = checks[si][li];
      const bool bad = c.vs_ref > 1e-4 || c.vs_f64 > 1e-5;
      ok = ok && !bad;
      if (li == 0) std::printf(" reference (%.1e)%s |", c.vs_f64, bad ? " WRONG" : "");
      else std::printf(" %.1e (%.1e)%s |", c.vs_ref, c.vs_f64, bad ? " WRONG" : "");
    }
    std::printf("\n");
  }
  std::printf("\n%s\n", ok ? "every library agrees with OpenBLAS and with float64 to float rounding"
                           : "SOME LIBRARY DISAGREES (WRONG above)");
  return ok ? 0 : 1;
}
