#include "dataset/loader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>
#include <variant>

#include "dataset/dataset_reader.h"
#include "ecg/h5_threadsafe.h"  // HDF5 is called from several threads here
#include "tensor/error.h"
#include "tensor/ledger.h"
#include "tensor/random.h"

namespace agf::dataset {

// One epoch's background reader. The thread owns the DatasetReader for the epoch's lifetime; the queue hands over
// batches or the exception that stopped it.
struct BatchLoader::Worker {
  using Item = std::variant<Batch, std::exception_ptr>;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;
  bool stop = false;      // set by the consumer: leave at the next wait
  bool finished = false;  // set by the thread: nothing more will be queued
  std::thread thread;

  ~Worker() {
    {
      std::lock_guard lk(mu);
      stop = true;
    }
    cv.notify_all();
    if (thread.joinable()) thread.join();
  }
};

std::vector<int64_t> BatchLoader::epoch_order(const std::vector<int64_t>& rows, uint64_t seed, int64_t epoch,
                                              bool shuffle) {
  std::vector<int64_t> order = rows;
  if (!shuffle) return order;
  AGF_CHECK(epoch >= 0 && epoch < (int64_t{1} << 23), "loader: epoch {} outside 0..2^23", epoch);
  // Each epoch draws from its own counter range (2^40 draws apart), so epochs are independent and any epoch can be
  // regenerated without replaying the ones before it.
  PhiloxStream rng(seed, static_cast<uint64_t>(epoch) << 40);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next_below(i)]);
  return order;
}

BatchLoader::BatchLoader(const std::filesystem::path& path, std::vector<int64_t> rows, LoaderOptions options)
    : path_(path), rows_(std::move(rows)), options_(options) {
  AGF_CHECK(options_.batch_size >= 1, "loader: batch size {} is not positive", options_.batch_size);
  AGF_CHECK(options_.prefetch >= 1, "loader: prefetch depth {} is not positive", options_.prefetch);
  DatasetReader reader(path_);
  num_classes_ = reader.num_classes();
  length_ = reader.length();
  for (int64_t r : rows_)
    AGF_CHECK(r >= 0 && r < reader.size(), "loader: row {} outside 0..{} of {}", r, reader.size() - 1,
              path_.string());
}

BatchLoader::BatchLoader(const std::filesystem::path& path, SplitPart part, LoaderOptions options)
    : BatchLoader(path, DatasetReader(path).split(part), options) {}

BatchLoader::~BatchLoader() { stop_worker(); }

void BatchLoader::stop_worker() { worker_.reset(); }

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = num_rows(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void BatchLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  AGF_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(), "loader: batch {} outside 0..{} of an epoch",
            first_batch, batches_per_epoch());
  stop_worker();
  worker_ = std::make_unique<Worker>();
  Worker* w = worker_.get();
  w->thread = std::thread([w, epoch, first_batch, path = path_,
                           order = epoch_order(rows_, options_.seed, epoch, options_.shuffle), opts = options_,
                           n_batches = batches_per_epoch()] {
    MemScope scope(MemTag::data);
    try {
      DatasetReader reader(path);
      auto batch_rows = [&](int64_t b) {
        const int64_t begin = b * opts.batch_size;
        const int64_t end = std::min<int64_t>(begin + opts.batch_size, static_cast<int64_t>(order.size()));
        return std::make_pair(order.data() + begin, end - begin);
      };
      for (int64_t b = first_batch; b < n_batches; ++b) {
        {
          std::unique_lock lk(w->mu);
          w->cv.wait(lk, [&] { return w->stop || static_cast<int64_t>(w->queue.size()) < opts.prefetch; });
          if (w->stop) break;
        }
        const auto [first, count] = batch_rows(b);
        Batch batch;
        batch.indices.assign(first, first + count);
        batch.epoch = epoch;
        batch.number = b;
        batch.x = reader.read_signals(batch.indices);
        batch.y = reader.read_labels(batch.indices);
        {
          std::lock_guard lk(w->mu);
          w->queue.emplace_back(std::move(batch));
        }
        w->cv.notify_all();
      }
    } catch (...) {
      std::lock_guard lk(w->mu);
      w->queue.emplace_back(std::current_exception());
    }
    {
      std::lock_guard lk(w->mu);
      w->finished = true;
    }
    w->cv.notify_all();
  });
}

std::optional<Batch> BatchLoader::next() {
  AGF_CHECK(worker_ != nullptr, "loader over {}: next() before start_epoch()", path_.string());
  Worker* w = worker_.get();
  Worker::Item item;
  {
    std::unique_lock lk(w->mu);
    w->cv.wait(lk, [&] { return !w->queue.empty() || w->finished; });
    if (w->queue.empty()) return std::nullopt;
    item = std::move(w->queue.front());
    w->queue.pop_front();
  }
  w->cv.notify_all();
  if (auto* error = std::get_if<std::exception_ptr>(&item)) std::rethrow_exception(*error);
  return std::move(std::get<Batch>(item));
}

}  // namespace agf::dataset
