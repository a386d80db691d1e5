// HDF5 event store: round trips, streaming by chunks, h5py interoperability,
// and every kind of bad input the reader must reject with a precise message.
#include "testing.hpp"

#include <H5Cpp.h>

#include <filesystem>
#include <fstream>

#include "src/core/error.h"
#include "src/io/event_reader.h"
#include "src/io/event_writer.h"
#include "tests/input_error.hpp"

using namespace refinery;
using refinery::testing::TempDir;
using refinery::testing::input_error_of;

namespace {

EventMeta make_meta(int n_features, int n_nuisances) {
  EventMeta meta;
  for (int f = 0; f < n_features; ++f) meta.feature_names.push_back("x" + std::to_string(f));
  meta.process_names = {"signal", "background"};
  for (int k = 0; k < n_nuisances; ++k) meta.nuisance_names.push_back("nu" + std::to_string(k));
  meta.luminosity = 10.0;
  meta.generator = "unit-test";
  meta.generator_version = "1";
  meta.seed = 1234;
  meta.config_hash = "00000000deadbeef";
  return meta;
}

EventSet make_events(int64_t n, const EventMeta& meta, int64_t offset = 0) {
  EventSet e;
  const int64_t nf = meta.feature_names.size();
  // Deterministic, row-identifiable content: features[i][f] = row + f/100.
  torch::Tensor row = torch::arange(offset, offset + n, torch::kFloat64);
  e.features = (row.unsqueeze(1) + torch::arange(nf, torch::kFloat64).unsqueeze(0) / 100.0)
                   .to(torch::kFloat32);
  e.weights = 1.0 / (row + 1.0);
  e.process = (row.to(torch::kInt64) % 2).to(torch::kInt32);
  if (!meta.nuisance_names.empty())
    e.nuisances = torch::full({n, (int64_t)meta.nuisance_names.size()}, 0.5f);
  return e;
}

// Writes a file with raw HDF5 calls, to fabricate malformed layouts.
void write_raw(const std::string& path, const std::function<void(H5::H5File&)>& fill) {
  H5::H5File file(path, H5F_ACC_TRUNC);
  fill(file);
}

template <class T>
void raw_dataset(H5::H5File& file, const char* name, const H5::PredType& type,
                 std::vector<hsize_t> dims, const std::vector<T>& data) {
  H5::DataSpace space(dims.size(), dims.data());
  H5::DataSet ds = file.createDataSet(name, type, space);
  ds.write(data.data(), type);
}

}  // namespace

TEST_CASE("event file round trip over several chunks, read back by blocks", "[io]") {
  TempDir tmp("io_roundtrip");
  EventMeta meta = make_meta(5, 2);
  EventWriterOptions opt;
  opt.chunk_rows = 1000;  // 10,500 rows: 11 chunks, the last one partial
  {
    EventWriter writer(tmp.path("events.h5"), meta, opt);
    // Appends that do not align with chunk boundaries.
    for (int64_t start = 0; start < 10500; start += 777)
      writer.append(make_events(std::min<int64_t>(777, 10500 - start), meta, start));
    REQUIRE(writer.rows_written() == 10500);
    writer.close();
  }
  EventReader reader(tmp.path("events.h5"));
  REQUIRE(reader.size() == 10500);
  REQUIRE(reader.chunk_rows() == 1000);
  REQUIRE(reader.has_nuisances());
  REQUIRE(reader.meta().feature_names == meta.feature_names);
  REQUIRE(reader.meta().process_names == meta.process_names);
  REQUIRE(reader.meta().nuisance_names == meta.nuisance_names);
  REQUIRE(reader.meta().luminosity == 10.0);
  REQUIRE(reader.meta().seed == 1234);
  REQUIRE(reader.meta().generator == "unit-test");
  REQUIRE(reader.meta().config_hash == "00000000deadbeef");

  EventSet expected = make_events(10500, meta);
  EventSet all = reader.read_all();
  REQUIRE(torch::equal(all.features, expected.features));
  REQUIRE(torch::equal(all.weights, expected.weights));
  REQUIRE(torch::equal(all.process, expected.process));
  REQUIRE(torch::equal(all.nuisances, expected.nuisances));

  // Block-wise reading covers every row exactly once, in order.
  int64_t seen = 0;
  int blocks = 0;
  reader.for_each_block(1500, [&](const EventSet& block, int64_t first) {
    REQUIRE(first == seen);
    REQUIRE(torch::equal(block.features, expected.features.narrow(0, first, block.size())));
    seen += block.size();
    ++blocks;
  });
  REQUIRE(seen == 10500);
  REQUIRE(blocks == 7);
  // A slice in the middle crossing chunk boundaries.
  EventSet mid = reader.read(2999, 1002);
  REQUIRE(torch::equal(mid.weights, expected.weights.narrow(0, 2999, 1002)));
}

TEST_CASE("h5py reads an event file written by refinery", "[io][python]") {
  TempDir tmp("io_h5py");
  EventMeta meta = make_meta(3, 1);
  EventWriterOptions opt;
  opt.chunk_rows = 64;
  write_events(tmp.path("py.h5"), make_events(200, meta), meta, opt);
  std::string script = refinery::testing::source_path("tests/python/read_events.py");
  auto r = refinery::testing::run_command(std::string(refinery::testing::debian_python()) + " " +
                                          script + " " + tmp.path("py.h5"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // The script prints: rows, feature names, sum of weights, features[199,2], process sum, nuisance.
  double sum_w = 0;
  for (int i = 0; i < 200; ++i) sum_w += 1.0 / (i + 1.0);
  char expected[256];
  std::snprintf(expected, sizeof expected, "200 x0,x1,x2 %.12f 199.02 100 0.5 nu0 10.0 unit-test 1234",
                sum_w);
  REQUIRE(r.output.find(expected) != std::string::npos);
}

TEST_CASE("event file without nuisances, and an empty file", "[io]") {
  TempDir tmp("io_plain");
  EventMeta meta = make_meta(4, 0);
  write_events(tmp.path("plain.h5"), make_events(10, meta), meta);
  EventReader reader(tmp.path("plain.h5"));
  REQUIRE_FALSE(reader.has_nuisances());
  REQUIRE(reader.read_all().size() == 10);

  EventWriter empty(tmp.path("empty.h5"), meta);
  empty.close();
  REQUIRE(EventReader(tmp.path("empty.h5")).size() == 0);
}

TEST_CASE("event numbers: written when the blocks carry them, read back, sliced and joined", "[io][paired]") {
  TempDir tmp("io_event");
  EventMeta meta = make_meta(3, 1);
  EventSet a = make_events(5, meta), b = make_events(4, meta, 5);
  a.event = torch::tensor({7, 3, 11, 20, 21}, torch::kInt64);
  b.event = torch::tensor({100, 2, 5, 6}, torch::kInt64);
  {
    EventWriter w(tmp.path("numbered.h5"), meta, EventWriterOptions{});
    w.append(a);
    w.append(b);
    w.close();
  }
  EventReader reader(tmp.path("numbered.h5"));
  EventSet all = reader.read_all();
  REQUIRE(all.has_event_numbers());
  REQUIRE(torch::equal(all.event, torch::cat({a.event, b.event})));
  REQUIRE(torch::equal(reader.read(4, 3).event, torch::tensor({21, 100, 2}, torch::kInt64)));
  REQUIRE(torch::equal(EventSet::concat({b, a}).event, torch::cat({b.event, a.event})));
  REQUIRE(torch::equal(all.slice(2, 2).event, torch::tensor({11, 20}, torch::kInt64)));
  // A file without them reads without them.
  write_events(tmp.path("plain.h5"), make_events(3, meta), meta);
  REQUIRE_FALSE(EventReader(tmp.path("plain.h5")).read_all().has_event_numbers());
  // Every block carries them or none does.
  {
    EventWriter w(tmp.path("mixed.h5"), meta, EventWriterOptions{});
    w.append(a);
    EventSet plain = make_events(2, meta, 5);
    REQUIRE(input_error_of([&] { w.append(plain); }) ==
            tmp.path("mixed.h5") + ": event: a block without event numbers after blocks with them");
  }
  REQUIRE_FALSE(std::filesystem::exists(tmp.path("mixed.h5")));
  EventSet wrong = make_events(2, meta);
  wrong.event = torch::tensor({1, 2}, torch::kInt32);
  REQUIRE(input_error_of([&] { write_events(tmp.path("wrong.h5"), wrong, meta); }) ==
          tmp.path("wrong.h5") + ": event: dtype must be int64");
  // Written by another program with another integer type.
  write_events(tmp.path("raw.h5"), make_events(2, meta), meta);
  {
    H5::H5File f(tmp.path("raw.h5"), H5F_ACC_RDWR);
    raw_dataset<int>(f, "event", H5::PredType::NATIVE_INT32, {2}, {4, 5});
  }
  REQUIRE(input_error_of([&] { EventReader r(tmp.path("raw.h5")); }) == tmp.path("raw.h5") + ": event: dtype must be int64, found int32");
}

TEST_CASE("bad event files are rejected with the file and dataset named", "[io][bad-input]") {
  TempDir tmp("io_bad");
  EventMeta meta = make_meta(3, 0);

  SECTION("missing file") {
    std::string msg = input_error_of([&] { EventReader r(tmp.path("nope.h5")); });
    REQUIRE(msg == tmp.path("nope.h5") + ": no such file");
  }
  SECTION("a file that is not HDF5") {
    std::ofstream(tmp.path("text.h5")) << "this is not hdf5\n";
    std::string msg = input_error_of([&] { EventReader r(tmp.path("text.h5")); });
    REQUIRE(msg == tmp.path("text.h5") + ": not an HDF5 file");
  }
  SECTION("a truncated HDF5 file") {
    EventWriterOptions opt;
    opt.chunk_rows = 512;
    write_events(tmp.path("full.h5"), make_events(20000, meta), meta, opt);
    auto size = std::filesystem::file_size(tmp.path("full.h5"));
    std::filesystem::copy_file(tmp.path("full.h5"), tmp.path("cut.h5"));
    std::filesystem::resize_file(tmp.path("cut.h5"), size / 2);
    std::string msg = input_error_of([&] { EventReader(tmp.path("cut.h5")).read_all(); });
    INFO(msg);
    REQUIRE(msg.rfind(tmp.path("cut.h5") + ": ", 0) == 0);
    REQUIRE(msg.find("truncated") != std::string::npos);
  }
  SECTION("a missing dataset") {
    write_raw(tmp.path("noweights.h5"), [](H5::H5File& f) {
      raw_dataset<float>(f, "features", H5::PredType::NATIVE_FLOAT, {2, 3}, std::vector<float>(6));
      raw_dataset<int>(f, "process", H5::PredType::NATIVE_INT32, {2}, {0, 0});
    });
    std::string msg = input_error_of([&] { EventReader r(tmp.path("noweights.h5")); });
    REQUIRE(msg == tmp.path("noweights.h5") + ": weights: dataset missing");
  }
  SECTION("a wrong dtype") {
    write_raw(tmp.path("f64.h5"), [](H5::H5File& f) {
      raw_dataset<double>(f, "features", H5::PredType::NATIVE_DOUBLE, {2, 3},
                          std::vector<double>(6));
      raw_dataset<double>(f, "weights", H5::PredType::NATIVE_DOUBLE, {2}, {1, 1});
      raw_dataset<int>(f, "process", H5::PredType::NATIVE_INT32, {2}, {0, 0});
    });
    std::string msg = input_error_of([&] { EventReader r(tmp.path("f64.h5")); });
    REQUIRE(msg == tmp.path("f64.h5") + ": features: dtype must be float32, found float64");
  }
  SECTION("a file declaring 10^9 rows it does not hold") {
    // Chunked datasets whose extent says 10^9 rows, one chunk written: the
    // reader refuses at open instead of reading fill values for minutes.
    write_raw(tmp.path("huge.h5"), [](H5::H5File& f) {
      auto chunked = [&](const char* name, const H5::PredType& type, std::vector<hsize_t> dims, std::vector<hsize_t> chunk) {
        H5::DSetCreatPropList plist;
        plist.setChunk(static_cast<int>(chunk.size()), chunk.data());
        H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
        H5::DataSet ds = f.createDataSet(name, type, space, plist);
        std::vector<char> zeros(64 * 1024 * 8, 0);
        std::vector<hsize_t> count = chunk, offset(chunk.size(), 0);
        H5::DataSpace file_space = ds.getSpace();
        file_space.selectHyperslab(H5S_SELECT_SET, count.data(), offset.data());
        H5::DataSpace mem(static_cast<int>(count.size()), count.data());
        ds.write(zeros.data(), type, mem, file_space);
      };
      chunked("features", H5::PredType::NATIVE_FLOAT, {1000000000, 3}, {1024, 3});
      chunked("weights", H5::PredType::NATIVE_DOUBLE, {1000000000}, {1024});
      chunked("process", H5::PredType::NATIVE_INT32, {1000000000}, {1024});
    });
    REQUIRE(std::filesystem::file_size(tmp.path("huge.h5")) < 1000000);
    std::string msg = input_error_of([&] { EventReader r(tmp.path("huge.h5")); });
    REQUIRE(msg == tmp.path("huge.h5") + ": features: declares 1000000000 rows but only 1 of its 976563 chunks are written "
                                         "(the rest holds no data)");
  }
  SECTION("an unsigned process dtype is named as such") {
    write_raw(tmp.path("u32.h5"), [](H5::H5File& f) {
      raw_dataset<float>(f, "features", H5::PredType::NATIVE_FLOAT, {2, 3}, std::vector<float>(6));
      raw_dataset<double>(f, "weights", H5::PredType::NATIVE_DOUBLE, {2}, {1, 1});
      raw_dataset<unsigned>(f, "process", H5::PredType::NATIVE_UINT32, {2}, {0, 0});
    });
    std::string msg = input_error_of([&] { EventReader r(tmp.path("u32.h5")); });
    REQUIRE(msg == tmp.path("u32.h5") + ": process: dtype must be int32, found uint32");
  }
  SECTION("mismatched lengths of features and weights") {
    write_raw(tmp.path("len.h5"), [](H5::H5File& f) {
      raw_dataset<float>(f, "features", H5::PredType::NATIVE_FLOAT, {3, 3}, std::vector<float>(9));
      raw_dataset<double>(f, "weights", H5::PredType::NATIVE_DOUBLE, {2}, {1, 1});
      raw_dataset<int>(f, "process", H5::PredType::NATIVE_INT32, {2}, {0, 0});
    });
    std::string msg = input_error_of([&] { EventReader r(tmp.path("len.h5")); });
    REQUIRE(msg == tmp.path("len.h5") + ": features: 3 rows but weights has 2");
  }
  SECTION("NaN in features and inf in weights, with the row index") {
    std::vector<float> x(30, 1.0f);
    x[7 * 3 + 1] = std::nanf("");
    std::vector<double> w(10, 1.0);
    w[4] = std::numeric_limits<double>::infinity();
    auto fill = [&](bool bad_x, bool bad_w) {
      return [=](H5::H5File& f) {
        std::vector<float> xx = bad_x ? x : std::vector<float>(30, 1.0f);
        std::vector<double> ww = bad_w ? w : std::vector<double>(10, 1.0);
        raw_dataset<float>(f, "features", H5::PredType::NATIVE_FLOAT, {10, 3}, xx);
        raw_dataset<double>(f, "weights", H5::PredType::NATIVE_DOUBLE, {10}, ww);
        raw_dataset<int>(f, "process", H5::PredType::NATIVE_INT32, {10}, std::vector<int>(10, 0));
        H5::Group root = f.openGroup("/");
        H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
        hsize_t one = 1;
        const char* name = "sig";
        root.createAttribute("process_names", t, H5::DataSpace(1, &one)).write(t, &name);
      };
    };
    write_raw(tmp.path("nan.h5"), fill(true, false));
    write_raw(tmp.path("inf.h5"), fill(false, true));
    REQUIRE(input_error_of([&] { EventReader(tmp.path("nan.h5")).read_all(); }) ==
            tmp.path("nan.h5") + ": features: non-finite value (NaN or inf) in row 7");
    REQUIRE(input_error_of([&] { EventReader(tmp.path("inf.h5")).read(2, 8); }) ==
            tmp.path("inf.h5") + ": weights: non-finite value (NaN or inf) in row 4");
  }
  SECTION("the writer rejects NaN and wrong shapes before writing") {
    EventSet e = make_events(5, meta);
    e.features[3][1] = std::nanf("");
    std::string msg = input_error_of([&] { write_events(tmp.path("w.h5"), e, meta); });
    REQUIRE(msg == tmp.path("w.h5") + ": features: non-finite value (NaN or inf) in row 3");
    REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("w.h5")));
    EventSet short_w = make_events(5, meta);
    short_w.weights = short_w.weights.narrow(0, 0, 4);
    REQUIRE(input_error_of([&] { write_events(tmp.path("w.h5"), short_w, meta); }) ==
            tmp.path("w.h5") + ": features: 5 rows but weights has 4");
  }
}

TEST_CASE("an interrupted write leaves no file and keeps the older one", "[io][atomic]") {
  TempDir tmp("io_atomic");
  EventMeta meta = make_meta(3, 0);
  const std::string path = tmp.path("out.h5");
  SECTION("no older file") {
    {
      EventWriter writer(path, meta);
      writer.append(make_events(100, meta));
      // destroyed without close(): the run failed midway
    }
    REQUIRE_FALSE(refinery::testing::file_exists(path));
    REQUIRE(std::filesystem::is_empty(tmp.dir()));  // temporary removed too
  }
  SECTION("an older file survives a failed overwrite") {
    write_events(path, make_events(7, meta), meta);
    try {
      EventWriter writer(path, meta);
      writer.append(make_events(100, meta));
      EventSet bad = make_events(10, meta);
      bad.weights[2] = std::nan("");
      writer.append(bad);  // throws midway through the run
      writer.close();
      FAIL("the bad block was accepted");
    } catch (const InputError& e) {
      REQUIRE(std::string(e.what()) == path + ": weights: non-finite value (NaN or inf) in row 102");
    }
    REQUIRE(EventReader(path).size() == 7);
  }
}

TEST_CASE("signals and killed runs leave no temporary files behind", "[io][atomic]") {
  // A long simulation killed by SIGTERM: the temporary file goes with it and
  // the signal ends the process as it would have. Killed by SIGKILL (which
  // no handler sees): the next write to the same destination removes it.
  TempDir tmp("io_signals");
  const std::string out = tmp.path("x.h5");
  auto temporaries = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.dir()))
      n += e.path().filename().string().rfind(".x.h5.tmp.", 0) == 0;
    return n;
  };
  auto killed_run = [&](const char* signal) {
    return refinery::testing::run_command(
        "(" + std::string(REFINERY_BINARY) + " simulate htautau --events 20000000 --quiet --threads 1 --out " + out +
        " & pid=$!; for i in $(seq 300); do ls -a " + tmp.dir() + " | grep -q '^.x.h5.tmp.' && break; sleep 0.1; done; "
        "sleep 0.3; kill -" + signal + " $pid; wait $pid; echo rc=$?)");
  };
  auto r = killed_run("TERM");
  INFO(r.output);
  REQUIRE(r.output.find("rc=143") != std::string::npos);  // 128 + SIGTERM
  REQUIRE(temporaries() == 0);
  REQUIRE_FALSE(refinery::testing::file_exists(out));
  r = killed_run("KILL");
  REQUIRE(r.output.find("rc=137") != std::string::npos);
  REQUIRE(temporaries() == 1);
  REQUIRE(refinery::testing::run_refinery("simulate htautau --events 100 --quiet --out " + out).exit_code == 0);
  REQUIRE(temporaries() == 0);
  REQUIRE(refinery::testing::file_exists(out));
}

TEST_CASE("output to a missing or unwritable directory is an input error", "[io][bad-input]") {
  EventMeta meta = make_meta(3, 0);
  std::string msg = input_error_of([&] { EventWriter w("/nonexistent-dir/x.h5", meta); });
  REQUIRE(msg == "/nonexistent-dir/x.h5: output directory '/nonexistent-dir' does not exist");
}
