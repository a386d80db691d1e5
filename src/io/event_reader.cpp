#include "src/io/event_reader.h"

#include <unistd.h>

#include <cstdio>

#include <H5Cpp.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "src/core/error.h"
#include "src/io/h5_attributes.h"
#include "src/io/h5_probe.h"
#include "src/io/h5_storage.h"

namespace refinery {

namespace {

struct DatasetSpec {
  const char* name;
  H5T_class_t type_class;
  size_t type_size;
  bool is_signed;
  int rank;
  const char* dtype_name;
};

constexpr DatasetSpec kFeatures{"features", H5T_FLOAT, 4, true, 2, "float32"};
constexpr DatasetSpec kWeights{"weights", H5T_FLOAT, 8, true, 1, "float64"};
constexpr DatasetSpec kProcess{"process", H5T_INTEGER, 4, true, 1, "int32"};
constexpr DatasetSpec kNuisances{"nuisances", H5T_FLOAT, 4, true, 2, "float32"};
constexpr DatasetSpec kEvent{"event", H5T_INTEGER, 8, true, 1, "int64"};

std::string describe_type(const H5::DataSet& ds) {
  H5T_class_t c = ds.getTypeClass();
  size_t size = ds.getDataType().getSize();
  if (c != H5T_FLOAT && c != H5T_INTEGER) return "a non-numeric type";
  std::string kind = c == H5T_FLOAT ? "float" : ds.getIntType().getSign() == H5T_SGN_NONE ? "uint" : "int";
  return kind + std::to_string(8 * size);
}

}  // namespace

struct EventReader::Impl {
  // Opens the file and reads its layout and metadata (the constructor's work).
  void open();
  std::string path;
  H5::H5File file;
  H5::DataSet features, weights, process, nuisances, event;
  bool has_nuisances = false, has_event = false;
  EventMeta meta;
  int64_t rows = 0;
  int64_t chunk = 16384;

  H5::DataSet open_checked(const DatasetSpec& spec, std::vector<hsize_t>* dims) {
    if (!file.nameExists(spec.name)) throw InputError(path, spec.name, "dataset missing");
    H5::DataSet ds = file.openDataSet(spec.name);
    bool ok = ds.getTypeClass() == spec.type_class && ds.getDataType().getSize() == spec.type_size;
    if (ok && spec.type_class == H5T_INTEGER)
      ok = ds.getIntType().getSign() == (spec.is_signed ? H5T_SGN_2 : H5T_SGN_NONE);
    if (!ok)
      throw InputError(path, spec.name,
                       std::string("dtype must be ") + spec.dtype_name + ", found " +
                           describe_type(ds));
    H5::DataSpace space = ds.getSpace();
    int rank = space.getSimpleExtentNdims();
    if (rank != spec.rank)
      throw InputError(path, spec.name,
                       "must have rank " + std::to_string(spec.rank) + ", found rank " +
                           std::to_string(rank));
    dims->assign(rank, 0);
    space.getSimpleExtentDims(dims->data());
    h5::check_stored(ds, path, spec.name, *dims, spec.type_size);
    return ds;
  }

  std::vector<std::string> names(const char* attr) {
    try {
      auto v = h5::read_strings(file.openGroup("/"), attr);
      return v ? *v : std::vector<std::string>{};
    } catch (const std::exception&) {
      throw InputError(path, std::string("attribute ") + attr, "must be an array of strings");
    }
  }

  void read_rows(H5::DataSet& ds, const H5::PredType& mem_type, void* out, int64_t start,
                 int64_t count, hsize_t columns, const char* name) {
    if (count == 0) return;
    int rank = columns == 0 ? 1 : 2;
    hsize_t offset[2] = {static_cast<hsize_t>(start), 0};
    hsize_t extent[2] = {static_cast<hsize_t>(count), columns};
    H5::DataSpace file_space = ds.getSpace();
    file_space.selectHyperslab(H5S_SELECT_SET, extent, offset);
    H5::DataSpace mem_space(rank, extent);
    try {
      ds.read(out, mem_type, mem_space, file_space);
    } catch (const H5::Exception& e) {
      throw InputError(path, name,
                       "cannot read rows " + std::to_string(start) + ".." +
                           std::to_string(start + count) + " (truncated or corrupt file?)");
    }
  }
};

EventReader::EventReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  H5::Exception::dontPrint();
  auto& d = *impl_;
  d.path = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path, "", "no such file");
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "", "is a directory");
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw InputError(path, "", "cannot open for reading");
  }
  htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) throw InputError(path, "", "not an HDF5 file");
  // libhdf5 itself may crash or hang on a damaged file: the same reading
  // first in a child (h5_probe.h), then here.
  h5::probe(path, [&] {
    Impl trial;
    trial.path = path;
    trial.open();
  });
  d.open();
}

void EventReader::Impl::open() {
  auto& d = *this;
  try {
    d.file = H5::H5File(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw InputError(path, "", "cannot open HDF5 file (truncated or corrupt?): " +
                                   e.getDetailMsg());
  }
  try {
    std::vector<hsize_t> fdims, wdims, pdims, ndims;
    d.features = d.open_checked(kFeatures, &fdims);
    d.weights = d.open_checked(kWeights, &wdims);
    d.process = d.open_checked(kProcess, &pdims);
    d.rows = static_cast<int64_t>(wdims[0]);
    if (fdims[0] != wdims[0])
      throw InputError(path, "features",
                       std::to_string(fdims[0]) + " rows but weights has " +
                           std::to_string(wdims[0]));
    if (pdims[0] != wdims[0])
      throw InputError(path, "process",
                       std::to_string(pdims[0]) + " rows but weights has " +
                           std::to_string(wdims[0]));
    d.meta.feature_names = d.names("feature_names");
    d.meta.process_names = d.names("process_names");
    d.meta.nuisance_names = d.names("nuisance_names");
    if (d.meta.feature_names.empty())
      for (hsize_t i = 0; i < fdims[1]; ++i) d.meta.feature_names.push_back("f" + std::to_string(i));
    if (d.meta.feature_names.size() != fdims[1])
      throw InputError(path, "attribute feature_names",
                       std::to_string(d.meta.feature_names.size()) + " names for " +
                           std::to_string(fdims[1]) + " feature columns");
    if (d.meta.process_names.empty())
      throw InputError(path, "attribute process_names", "missing");
    if (d.file.nameExists("nuisances")) {
      d.nuisances = d.open_checked(kNuisances, &ndims);
      d.has_nuisances = true;
      if (ndims[0] != wdims[0])
        throw InputError(path, "nuisances",
                         std::to_string(ndims[0]) + " rows but weights has " +
                             std::to_string(wdims[0]));
      if (d.meta.nuisance_names.size() != ndims[1])
        throw InputError(path, "attribute nuisance_names",
                         std::to_string(d.meta.nuisance_names.size()) + " names for " +
                             std::to_string(ndims[1]) + " nuisance columns");
    } else if (!d.meta.nuisance_names.empty()) {
      throw InputError(path, "nuisances", "dataset missing although nuisance_names is set");
    }
    if (d.file.nameExists("event")) {
      std::vector<hsize_t> edims;
      d.event = d.open_checked(kEvent, &edims);
      d.has_event = true;
      if (edims[0] != wdims[0])
        throw InputError(path, "event",
                         std::to_string(edims[0]) + " rows but weights has " + std::to_string(wdims[0]));
    }
    H5::Group root = d.file.openGroup("/");
    auto num = [&](const char* name) -> std::optional<double> {
      try {
        return h5::read_double(root, name);
      } catch (const std::exception&) {
        throw InputError(path, std::string("attribute ") + name, "must be numeric");
      }
    };
    auto str = [&](const char* name) -> std::string {
      try {
        return h5::read_string(root, name).value_or("");
      } catch (const std::exception&) {
        throw InputError(path, std::string("attribute ") + name, "must be a string");
      }
    };
    d.meta.luminosity = num("luminosity").value_or(0.0);
    d.meta.generator = str("generator");
    d.meta.generator_version = str("generator_version");
    d.meta.config_hash = str("config_hash");
    try {
      d.meta.seed = h5::read_uint64(root, "seed").value_or(0);
    } catch (const std::exception&) {
      throw InputError(path, "attribute seed", "must be an integer");
    }
    H5::DSetCreatPropList plist = d.features.getCreatePlist();
    if (plist.getLayout() == H5D_CHUNKED) {
      hsize_t chunk[2] = {0, 0};
      plist.getChunk(2, chunk);
      d.chunk = std::max<int64_t>(1, static_cast<int64_t>(chunk[0]));
    }
  } catch (const H5::Exception& e) {
    throw InputError(path, "", "corrupt HDF5 file: " + e.getDetailMsg());
  }
}

EventReader::~EventReader() = default;

const EventMeta& EventReader::meta() const { return impl_->meta; }
const std::string& EventReader::path() const { return impl_->path; }
int64_t EventReader::size() const { return impl_->rows; }
bool EventReader::has_nuisances() const { return impl_->has_nuisances; }
int64_t EventReader::chunk_rows() const { return impl_->chunk; }

EventSet EventReader::read(int64_t start, int64_t count) const {
  auto& d = *impl_;
  start = std::clamp<int64_t>(start, 0, d.rows);
  count = std::clamp<int64_t>(count, 0, d.rows - start);
  const int64_t nf = static_cast<int64_t>(d.meta.feature_names.size());
  const int64_t nk = d.has_nuisances ? static_cast<int64_t>(d.meta.nuisance_names.size()) : 0;
  // Refuse a read that cannot fit in memory before allocating it.
  const double bytes = double(count) * double(4 * nf + 8 + 4 + 4 * nk + (d.has_event ? 8 : 0));
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  if (memory > 0 && bytes > 0.8 * memory) {
    char text[160];
    std::snprintf(text, sizeof text, "reading %lld rows needs %.1f GiB, more than this machine's %.1f GiB of memory allows",
                  static_cast<long long>(count), bytes / (1 << 30), memory / (1 << 30));
    throw InputError(d.path, "", text);
  }
  EventSet out;
  out.features = torch::empty({count, nf}, torch::kFloat32);
  out.weights = torch::empty({count}, torch::kFloat64);
  out.process = torch::empty({count}, torch::kInt32);
  d.read_rows(d.features, H5::PredType::NATIVE_FLOAT, out.features.data_ptr(), start, count, nf,
              "features");
  d.read_rows(d.weights, H5::PredType::NATIVE_DOUBLE, out.weights.data_ptr(), start, count, 0,
              "weights");
  d.read_rows(d.process, H5::PredType::NATIVE_INT32, out.process.data_ptr(), start, count, 0,
              "process");
  if (d.has_nuisances) {
    out.nuisances = torch::empty({count, nk}, torch::kFloat32);
    d.read_rows(d.nuisances, H5::PredType::NATIVE_FLOAT, out.nuisances.data_ptr(), start, count,
                nk, "nuisances");
  }
  if (d.has_event) {
    out.event = torch::empty({count}, torch::kInt64);
    d.read_rows(d.event, H5::PredType::NATIVE_INT64, out.event.data_ptr(), start, count, 0, "event");
  }
  out.validate(d.meta, d.path, start);
  return out;
}

EventSet EventReader::read_all() const { return read(0, impl_->rows); }

void EventReader::for_each_block(int64_t block_rows,
                                 const std::function<void(const EventSet&, int64_t)>& fn) const {
  if (block_rows <= 0) block_rows = chunk_rows();
  for (int64_t start = 0; start < impl_->rows; start += block_rows)
    fn(read(start, block_rows), start);
}

EventSet read_events(const std::string& path, EventMeta* meta) {
  EventReader reader(path);
  if (meta) *meta = reader.meta();
  return reader.read_all();
}

}  // namespace refinery
