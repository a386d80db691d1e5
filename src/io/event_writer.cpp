#include "src/io/event_writer.h"

#include <H5Cpp.h>
#include <torch/torch.h>

#include <algorithm>

#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/version.h"
#include "src/io/h5_attributes.h"

namespace refinery {

namespace {

// An extendible, chunked dataset of rank 1 or 2 that grows along rows.
struct GrowingDataset {
  H5::DataSet dataset;
  H5::PredType mem_type = H5::PredType::NATIVE_FLOAT;
  hsize_t columns = 0;  // 0 for rank 1
  int rank() const { return columns == 0 ? 1 : 2; }

  void create(H5::H5File& file, const std::string& name, const H5::PredType& file_type,
              const H5::PredType& memory_type, hsize_t cols, const EventWriterOptions& opt) {
    mem_type = memory_type;
    columns = cols;
    hsize_t dims[2] = {0, cols};
    hsize_t maxdims[2] = {H5S_UNLIMITED, cols};
    hsize_t chunk[2] = {static_cast<hsize_t>(std::max<int64_t>(1, opt.chunk_rows)),
                        std::max<hsize_t>(1, cols)};
    H5::DataSpace space(rank(), dims, maxdims);
    H5::DSetCreatPropList plist;
    plist.setChunk(rank(), chunk);
    if (opt.shuffle) plist.setShuffle();
    if (opt.deflate_level > 0) plist.setDeflate(std::min(9, opt.deflate_level));
    dataset = file.createDataSet(name, file_type, space, plist);
  }

  void append(const torch::Tensor& block, hsize_t offset) {
    torch::Tensor data = block.contiguous();
    hsize_t n = static_cast<hsize_t>(data.size(0));
    if (n == 0) return;
    hsize_t new_dims[2] = {offset + n, columns};
    dataset.extend(new_dims);
    H5::DataSpace file_space = dataset.getSpace();
    hsize_t start[2] = {offset, 0};
    hsize_t count[2] = {n, columns};
    file_space.selectHyperslab(H5S_SELECT_SET, count, start);
    H5::DataSpace mem_space(rank(), count);
    dataset.write(data.data_ptr(), mem_type, mem_space, file_space);
  }
};

}  // namespace

struct EventWriter::Impl {
  EventMeta meta;
  EventWriterOptions options;
  AtomicFile target;
  H5::H5File file;
  GrowingDataset features, weights, process, nuisances, event;
  int64_t rows = 0;
  bool open = false;
  bool event_numbers = false;  // decided by the first block: every block carries them or none

  Impl(const std::string& path, EventMeta m, EventWriterOptions o)
      : meta(std::move(m)), options(o), target(path) {}
};

EventWriter::EventWriter(const std::string& path, EventMeta meta, EventWriterOptions options)
    : impl_(std::make_unique<Impl>(path, std::move(meta), options)) {
  H5::Exception::dontPrint();
  auto& d = *impl_;
  if (d.meta.feature_names.empty()) throw InputError(path, "feature_names", "no features");
  if (d.meta.process_names.empty()) throw InputError(path, "process_names", "no processes");
  try {
    H5::FileAccPropList fapl;
    // A chunk cache that holds a few chunks of every dataset, so appends that
    // do not end on a chunk boundary do not re-read and re-compress chunks.
    fapl.setCache(0, 10007, 64u << 20, 0.75);
    d.file = H5::H5File(d.target.temp_path(), H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, fapl);
    const hsize_t n_features = d.meta.feature_names.size();
    d.features.create(d.file, "features", H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT,
                      n_features, options);
    d.weights.create(d.file, "weights", H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE, 0,
                     options);
    d.process.create(d.file, "process", H5::PredType::STD_I32LE, H5::PredType::NATIVE_INT32, 0,
                     options);
    if (!d.meta.nuisance_names.empty())
      d.nuisances.create(d.file, "nuisances", H5::PredType::IEEE_F32LE,
                         H5::PredType::NATIVE_FLOAT, d.meta.nuisance_names.size(), options);
    H5::Group root = d.file.openGroup("/");
    h5::write_strings(root, "feature_names", d.meta.feature_names);
    h5::write_strings(root, "process_names", d.meta.process_names);
    h5::write_strings(root, "nuisance_names", d.meta.nuisance_names);
    h5::write_double(root, "luminosity", d.meta.luminosity);
    h5::write_string(root, "generator", d.meta.generator);
    h5::write_string(root, "generator_version", d.meta.generator_version);
    h5::write_uint64(root, "seed", d.meta.seed);
    h5::write_string(root, "config_hash", d.meta.config_hash);
    h5::write_string(root, "refinery_version", version() + " (" + git_commit() + ")");
    h5::write_string(root, "format", "refinery-events-1");
    d.open = true;
  } catch (const H5::Exception& e) {
    throw InputError(path, "", "cannot create HDF5 file: " + e.getDetailMsg());
  }
}

EventWriter::~EventWriter() {
  if (impl_ && impl_->open) {
    try {
      impl_->file.close();
    } catch (...) {
    }
  }
  // impl_->target's destructor removes the uncommitted temporary file.
}

void EventWriter::append(const EventSet& events) {
  auto& d = *impl_;
  if (!d.open) throw std::logic_error("EventWriter::append after close");
  events.validate(d.meta, d.target.final_path(), d.rows);
  if (d.rows == 0 && !d.event_numbers && events.has_event_numbers()) {
    d.event.create(d.file, "event", H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64, 0, d.options);
    d.event_numbers = true;
  }
  if (events.size() > 0 && events.has_event_numbers() != d.event_numbers)
    throw InputError(d.target.final_path(), "event",
                     "a block " + std::string(d.event_numbers ? "without" : "with") +
                         " event numbers after blocks " + (d.event_numbers ? "with" : "without") + " them");
  try {
    const hsize_t offset = static_cast<hsize_t>(d.rows);
    d.features.append(events.features, offset);
    d.weights.append(events.weights, offset);
    d.process.append(events.process, offset);
    if (events.has_nuisances()) d.nuisances.append(events.nuisances, offset);
    if (d.event_numbers) d.event.append(events.event, offset);
  } catch (const H5::Exception& e) {
    throw InputError(d.target.final_path(), "", "HDF5 write failed: " + e.getDetailMsg());
  }
  d.rows += events.size();
}

void EventWriter::close() {
  auto& d = *impl_;
  if (!d.open) return;
  try {
    d.file.flush(H5F_SCOPE_GLOBAL);
    d.file.close();
  } catch (const H5::Exception& e) {
    throw InputError(d.target.final_path(), "", "HDF5 close failed: " + e.getDetailMsg());
  }
  d.open = false;
  d.target.commit();
}

int64_t EventWriter::rows_written() const { return impl_->rows; }
const std::string& EventWriter::path() const { return impl_->target.final_path(); }

void write_events(const std::string& path, const EventSet& events, const EventMeta& meta,
                  EventWriterOptions options) {
  EventWriter writer(path, meta, options);
  writer.append(events);
  writer.close();
}

}  // namespace refinery
