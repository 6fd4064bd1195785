#pragma once
// What collect_challenge (collect.cpp) and collect_code15 (collect_code15.cpp) share: the worker pool's size, a
// record's trip from its reader to its stored chunk, the skip policy, the dataset's description and the finish
// that writes the dataset with its tables. Not part of the library's interface.
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "dataset/collect.h"
#include "dataset/dataset_writer.h"
#include "ecg/leads.h"
#include "ecg/preprocess.h"
#include "ecg/record_error.h"
#include "io/atomic_file.h"

namespace agf::dataset::detail {

int worker_count(const CollectSettings& s);
// How many prepared records may wait for the writer: enough to keep every worker busy, few enough to stay small.
int64_t pipeline_window(int workers);

// A record's outcome from a worker: its stored chunk, or the reason it is skipped.
struct PreparedRecord {
  std::vector<uint8_t> chunk;
  std::optional<ecg::RecordError> error;
};

// A std::bad_alloc while one record is read or preprocessed (a record far larger than any real one) is that record's
// problem, skipped and counted like any other, not an abort of the whole run with a message naming no file.
ecg::RecordError out_of_memory(const std::string& record);

// read() -> ecg::Signal, then preprocessing and the chunk's encoding, on a worker thread; what goes wrong with the
// record becomes its skip reason instead of an exception that would end the run.
template <typename ReadSignal>
PreparedRecord prepare_record(ReadSignal&& read, const std::string& record, const ecg::PreprocessConfig& pre,
                              int64_t deflate_level) {
  PreparedRecord out;
  try {
    const ecg::Signal sig = read();
    std::vector<float> signal(static_cast<size_t>(ecg::kStandardLeadCount * pre.length));
    ecg::preprocess_into(sig, pre, signal.data());
    out.chunk = DatasetWriter::encode_record(signal.data(), pre.length, deflate_level);
  } catch (const ecg::RecordError& err) {
    out.error = err;
  } catch (const std::bad_alloc&) {
    out.error = out_of_memory(record);
  }
  return out;
}

// Counts a skip (or, under --strict, throws it) through the tally, so both policies live in one place.
void note_problem(ecg::SkipTally& tally, const ecg::RecordError& e);

// The root attributes every dataset of a run shares (rate, length, preprocessing in words, creator, deflate level).
DatasetInfo base_info(const CollectSettings& s, const ecg::PreprocessConfig& pre, double fs);

// Finishes the dataset, its class table and (when records were skipped or noted) the table of them; fills the
// report's outcome fields.
void finish_outputs(DatasetWriter& writer, const std::vector<DatasetClass>& classes, const CollectSettings& settings,
                    CollectReport& report);

// Claims <name>.h5 and its tables for this run, before any work: a second run on the same output refuses at once
// instead of racing this one (io::OutputLock on .<name>.h5.lock beside it, removed when the run ends).
io::OutputLock claim_output(const std::filesystem::path& output);
// `name` when it is a plain file name (an output inside -o), else an error naming `option`.
std::string checked_output_name(const std::string& name, std::string_view option);

}  // namespace agf::dataset::detail
