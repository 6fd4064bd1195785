#include "ecg/synth/synth_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "ecg/synth/challenge_writer.h"
#include "ecg/synth/code15_writer.h"
#include "io/atomic_file.h"
#include "io/interrupt.h"
#include "tensor/error.h"

namespace agf::synth {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs job(i) for i in [begin, end) on `threads` workers; reports progress from the calling thread. The first
// exception stops the remaining work and is rethrown here. An interrupt (SIGINT/SIGTERM) stops the workers before
// their next job, each finishing the one in hand; the number of jobs done is returned so that the caller can say
// where the run stopped.
int64_t run_parallel(int64_t begin, int64_t end, int threads, const std::function<void(int64_t)>& job,
                     const std::function<void(int64_t)>& report, double interval_s) {
  std::atomic<int64_t> next{begin}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
  std::condition_variable cv;
  int running = threads;
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w) {
    pool.emplace_back([&] {
      for (;;) {
        const int64_t i = next.fetch_add(1);
        if (i >= end || failed.load() || io::interrupt_requested()) break;
        try {
          job(i);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!error) error = std::current_exception();
          failed = true;
        }
        done.fetch_add(1);
      }
      std::lock_guard lock(mu);
      --running;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    const auto interval = std::chrono::duration<double>(std::max(interval_s, 0.01));
    while (running > 0) {
      cv.wait_for(lock, interval);
      if (running > 0 && report) {
        lock.unlock();
        report(done.load());
        lock.lock();
      }
    }
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return done.load();
}

void make_out_dir(const std::filesystem::path& dir) {
  AGF_CHECK(!dir.empty(), "--out: no output folder given");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  AGF_CHECK(!ec && std::filesystem::is_directory(dir), "--out {}: cannot create the folder ({})", dir.string(),
            ec ? ec.message() : "exists and is not a folder");
}

// One set is written into a folder at a time: two runs with different settings would leave a mix of both (for
// CODE-15, an exams.csv that does not describe the parts beside it).
io::OutputLock lock_out_dir(const std::filesystem::path& dir) {
  return io::OutputLock(dir / ".agf-synth.lock", fmt::format("--out {}", dir.string()));
}

}  // namespace

int resolve_threads(int requested) {
  AGF_CHECK(requested >= 0 && requested <= 1024, "--threads {}: expected 0 (all cores) .. 1024", requested);
  if (requested > 0) return requested;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

void SetSummary::add(const LabelSet& labels) {
  ++records;
  for (const auto& c : synth_classes())
    if (labels.has(c.cls)) ++per_class[static_cast<size_t>(c.cls)];
  ++per_label_set[labels.abbreviations()];
}

void SetSummary::merge(const SetSummary& other) {
  records += other.records;
  for (size_t c = 0; c < per_class.size(); ++c) per_class[c] += other.per_class[c];
  for (const auto& [k, v] : other.per_label_set) per_label_set[k] += v;
}

std::string SetSummary::format() const {
  std::string out = fmt::format("{} records\n  class   SNOMED       records  share\n", records);
  for (const auto& c : synth_classes()) {
    const int64_t k = per_class[static_cast<size_t>(c.cls)];
    out += fmt::format("  {:<7} {:<12} {:>7}  {:5.1f}%\n", c.abbreviation, c.snomed, k,
                       records > 0 ? 100.0 * static_cast<double>(k) / static_cast<double>(records) : 0.0);
  }
  std::vector<std::pair<int64_t, std::string>> sets;
  for (const auto& [k, v] : per_label_set) sets.emplace_back(-v, k);
  std::sort(sets.begin(), sets.end());
  out += fmt::format("  {} distinct label sets; most common:", sets.size());
  for (size_t i = 0; i < std::min<size_t>(sets.size(), 8); ++i)
    out += fmt::format(" {} {}{}", sets[i].second, -sets[i].first, i + 1 < std::min<size_t>(sets.size(), 8) ? "," : "");
  out += "\n";
  return out;
}

void ChallengeSetOptions::validate() const {
  config.validate();
  AGF_CHECK(n >= 1 && n <= 99'999'999, "--n {}: expected 1..99999999", n);
  resolve_threads(threads);
}

void Code15SetOptions::validate() const {
  AGF_CHECK(n >= 1 && n <= 99'999'999, "--n {}: expected 1..99999999", n);
  AGF_CHECK(parts >= 1 && parts <= n, "--parts {}: expected 1..n ({})", parts, n);
  AGF_CHECK(std::isfinite(noise_scale) && noise_scale >= 0.0 && noise_scale <= 10.0,
            "--noise {}: expected 0..10 (1 = typical recording artefacts, 0 = none)", noise_scale);
  mix.validate();
  resolve_threads(threads);
}

SetSummary write_challenge_set(const ChallengeSetOptions& options, const ProgressCallback& progress) {
  options.validate();
  make_out_dir(options.out_dir);
  const io::OutputLock lock = lock_out_dir(options.out_dir);
  const int threads = static_cast<int>(std::min<int64_t>(resolve_threads(options.threads), options.n));
  const auto t0 = Clock::now();
  std::vector<LabelSet> labels(static_cast<size_t>(options.n));
  const int64_t done = run_parallel(
      0, options.n, threads,
      [&](int64_t i) {
        const SynthRecord rec = generate_record(options.config, options.seed, i);
        write_challenge_record(rec, options.out_dir, challenge_record_name(i));
        labels[static_cast<size_t>(i)] = rec.labels;
      },
      [&](int64_t done) {
        if (progress) progress({done, options.n, seconds_since(t0)});
      },
      options.progress_interval_s);
  // Each record's two files are written atomically, .mat before .hea: what is on disk is whole records only.
  io::throw_if_interrupted(fmt::format("{} of {} records written to {} (each one complete), the rest not",
                                       std::min(done, options.n), options.n, options.out_dir.string()));
  io::sync_file_system(options.out_dir);  // the records were written unsynced, one by one
  SetSummary summary;
  for (const auto& l : labels) summary.add(l);
  summary.elapsed_s = seconds_since(t0);
  if (progress) progress({options.n, options.n, summary.elapsed_s});
  return summary;
}

SetSummary write_code15_set(const Code15SetOptions& options, const ProgressCallback& progress) {
  options.validate();
  SynthConfig base;
  base.fs = kCode15Fs;
  base.mix = options.mix;
  base.noise_scale = options.noise_scale;
  base.validate();
  make_out_dir(options.out_dir);
  const io::OutputLock lock = lock_out_dir(options.out_dir);
  const int threads = resolve_threads(options.threads);
  const auto t0 = Clock::now();

  std::vector<Code15ExamRow> rows(static_cast<size_t>(options.n));
  std::vector<LabelSet> labels(static_cast<size_t>(options.n));
  int64_t done_before = 0;
  for (int part = 0; part < options.parts; ++part) {
    // Exams split evenly over the parts, in index order.
    const int64_t begin = options.n * part / options.parts, end = options.n * (part + 1) / options.parts;
    const std::string trace_file = fmt::format("exams_part{}.hdf5", part);
    Code15PartWriter writer(options.out_dir / trace_file, end - begin);
    // Generate a batch in parallel, then write it from this thread: HDF5 (thread-safe build) runs every call under
    // one global lock, so parallel writes would gain nothing, and one writer keeps the rows in index order.
    const int64_t batch = std::max<int64_t>(16, 8 * threads);
    std::vector<float> tracings;
    for (int64_t b0 = begin; b0 < end; b0 += batch) {
      const int64_t b1 = std::min(end, b0 + batch);
      tracings.assign(static_cast<size_t>((b1 - b0) * kCode15Samples * kLeadCount), 0.0f);
      run_parallel(
          b0, b1, static_cast<int>(std::min<int64_t>(threads, b1 - b0)),
          [&](int64_t i) {
            SynthConfig cfg = base;
            cfg.seconds = code15_exam_seconds(options.seed, i);
            const SynthRecord rec = generate_record(cfg, options.seed, i);
            code15_tracing(rec, tracings.data() + (i - b0) * kCode15Samples * kLeadCount);
            rows[static_cast<size_t>(i)] = code15_row(rec, code15_exam_id(options.seed, i), trace_file);
            labels[static_cast<size_t>(i)] = rec.labels;
          },
          [&](int64_t done) {
            if (progress) progress({done_before + done, options.n, seconds_since(t0)});
          },
          options.progress_interval_s);
      io::throw_if_interrupted(fmt::format("{} not written ({} of {} parts complete); no exams.csv, so the set in {} "
                                           "is incomplete", trace_file, part, options.parts,
                                           options.out_dir.string()));
      for (int64_t i = b0; i < b1; ++i)
        writer.write(i - begin, rows[static_cast<size_t>(i)].exam_id,
                     tracings.data() + (i - b0) * kCode15Samples * kLeadCount);
      done_before += b1 - b0;
      if (progress) progress({done_before, options.n, seconds_since(t0)});
    }
    writer.commit();
  }
  SetSummary summary;
  for (const auto& l : labels) summary.add(l);
  // exams.csv lists the exams in an order unrelated to the files (a seeded shuffle), as the real one does.
  PhiloxStream shuffle(derive_key(options.seed ^ 0xC0DE15ull, 0));
  for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[shuffle.next_below(i)]);
  io::write_file_atomically(options.out_dir / "exams.csv", format_code15_csv(rows));
  summary.elapsed_s = seconds_since(t0);
  return summary;
}

}  // namespace agf::synth
