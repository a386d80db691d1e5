#include "src/core/onnx_model.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "src/core/atomic_file.h"
#include "src/core/error.h"

namespace refinery::onnx {

namespace {

// --- writing: protobuf wire types 0 (varint), 2 (length-delimited), 5 (32-bit)

void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void key(std::string& out, int field, int wire) { varint(out, (std::uint64_t(field) << 3) | std::uint64_t(wire)); }
void put_int(std::string& out, int field, std::int64_t v) {
  key(out, field, 0);
  varint(out, std::uint64_t(v));
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  key(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}
void put_float(std::string& out, int field, float f) {
  key(out, field, 5);
  char b[4];
  std::memcpy(b, &f, 4);  // little-endian hosts (x86-64, aarch64)
  out.append(b, 4);
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {  // little-endian hosts, as put_float
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::string tensor_bytes(const Tensor& t) {
  std::string m;
  for (auto d : t.dims) put_int(m, 1, d);
  put_int(m, 2, t.type);
  put_bytes(m, 8, t.name);
  switch (t.type) {
    case kFloat: put_bytes(m, 9, raw_bytes(t.data)); break;
    case kDouble: put_bytes(m, 9, raw_bytes(t.doubles)); break;
    case kInt64: put_bytes(m, 9, raw_bytes(t.int64s)); break;
    default: throw std::invalid_argument("onnx: initializer '" + t.name + "' of a type refinery does not write");
  }
  return m;
}

std::string attribute_bytes(const Attribute& a) {
  std::string m;
  put_bytes(m, 1, a.name);
  switch (a.kind) {
    case Attribute::kFloat: put_float(m, 2, a.f); break;
    case Attribute::kInt: put_int(m, 3, a.i); break;
    case Attribute::kInts:
      for (auto v : a.ints) put_int(m, 8, v);
      break;
  }
  put_int(m, 20, a.kind);
  return m;
}

std::string node_bytes(const Node& n) {
  std::string m;
  for (const auto& s : n.inputs) put_bytes(m, 1, s);
  for (const auto& s : n.outputs) put_bytes(m, 2, s);
  if (!n.name.empty()) put_bytes(m, 3, n.name);
  put_bytes(m, 4, n.op_type);
  for (const auto& a : n.attributes) put_bytes(m, 5, attribute_bytes(a));
  return m;
}

std::string value_info_bytes(const ValueInfo& v) {
  std::string shape;
  for (std::size_t i = 0; i < v.dims.size(); ++i) {
    std::string dim;
    if (v.dims[i] >= 0) put_int(dim, 1, v.dims[i]);
    else put_bytes(dim, 2, i < v.dim_params.size() && !v.dim_params[i].empty() ? v.dim_params[i] : "N");
    put_bytes(shape, 1, dim);
  }
  std::string tensor;
  put_int(tensor, 1, v.type);
  put_bytes(tensor, 2, shape);
  std::string type;
  put_bytes(type, 1, tensor);
  std::string m;
  put_bytes(m, 1, v.name);
  put_bytes(m, 2, type);
  return m;
}

// --- reading

struct Field {
  int number = 0, wire = 0;
  std::uint64_t value = 0;  // varint, or the 32/64-bit bits
  const char* data = nullptr;  // length-delimited
  std::size_t size = 0;
  std::string bytes() const { return std::string(data, size); }
};

class Reader {
 public:
  Reader(const char* p, std::size_t n, const std::string& file, std::string where)
      : p_(p), end_(p + n), file_(file), where_(std::move(where)) {}
  bool next(Field* f) {
    if (p_ == end_) return false;
    const std::uint64_t k = read_varint();
    f->number = int(k >> 3);
    f->wire = int(k & 7);
    if (f->number <= 0 || k >> 3 > (1u << 29)) fail("bad field number");
    switch (f->wire) {
      case 0: f->value = read_varint(); break;
      case 1: f->value = fixed(8); break;
      case 5: f->value = fixed(4); break;
      case 2: {
        const std::uint64_t n = read_varint();
        if (n > std::uint64_t(end_ - p_)) fail("a length beyond the end of the data");
        f->data = p_;
        f->size = std::size_t(n);
        p_ += n;
        break;
      }
      default: fail("unsupported wire type " + std::to_string(f->wire));
    }
    return true;
  }
  [[noreturn]] void fail(const std::string& what) const { throw InputError(file_, where_, "not an ONNX model: " + what); }
  // A packed repeated varint field is a Reader over its bytes read varint by varint.
  bool done() const { return p_ == end_; }
  std::uint64_t read_varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) fail("truncated");
      const auto b = std::uint8_t(*p_++);
      v |= std::uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("a varint longer than 10 bytes");
  }

 private:
  std::uint64_t fixed(int n) {
    if (end_ - p_ < n) fail("truncated");
    std::uint64_t v = 0;
    std::memcpy(&v, p_, n);
    p_ += n;
    return v;
  }
  const char* p_;
  const char* end_;
  const std::string& file_;
  std::string where_;
};

void expect(const Field& f, int wire, const Reader& r, const char* what) {
  if (f.wire != wire) r.fail(std::string(what) + " has the wrong wire type");
}

Tensor parse_tensor(const Field& outer, const std::string& file, const std::string& where) {
  Reader r(outer.data, outer.size, file, where);
  Tensor t;
  Field f;
  std::int64_t type = 0;
  std::string raw;
  bool have_raw = false;
  while (r.next(&f)) {
    if (f.number == 1) {
      if (f.wire == 0) t.dims.push_back(std::int64_t(f.value));
      else {
        expect(f, 2, r, "dims");
        Reader packed(f.data, f.size, file, where + ".dims");
        while (!packed.done()) t.dims.push_back(std::int64_t(packed.read_varint()));
      }
    } else if (f.number == 2) {
      expect(f, 0, r, "data_type");
      type = std::int64_t(f.value);
    } else if (f.number == 8) {
      expect(f, 2, r, "name");
      t.name = f.bytes();
    } else if (f.number == 9) {
      expect(f, 2, r, "raw_data");
      raw = f.bytes();
      have_raw = true;
    } else if (f.number == 4) {
      if (f.wire == 5) {
        float x;
        std::uint32_t bits = std::uint32_t(f.value);
        std::memcpy(&x, &bits, 4);
        t.data.push_back(x);
      } else {
        expect(f, 2, r, "float_data");
        if (f.size % 4) r.fail("float_data not a whole number of floats");
        const std::size_t n = f.size / 4;
        const std::size_t old = t.data.size();
        t.data.resize(old + n);
        std::memcpy(t.data.data() + old, f.data, f.size);
      }
    }
  }
  const std::string where_t = where + " '" + t.name + "'";
  if (type != kFloat && type != kDouble && type != kInt64)
    throw InputError(file, where_t, "only float, double and int64 tensors are read (data_type " + std::to_string(type) + ")");
  t.type = DataType(type);
  std::uint64_t count = 1;
  for (auto d : t.dims) {
    if (d < 0 || d > (std::int64_t(1) << 32)) throw InputError(file, where_t, "a negative or huge dimension");
    count *= std::uint64_t(d);
    if (count > (std::uint64_t(1) << 32)) throw InputError(file, where_t, "more than 2^32 elements");
  }
  if (t.type != kFloat) {
    // refinery writes double and int64 tensors as raw_data only.
    const std::size_t size = 8;
    if (!have_raw || raw.size() != count * size)
      throw InputError(file, where_t, "raw_data holds " + std::to_string(raw.size()) + " bytes, the dims need " + std::to_string(count * size));
    if (t.type == kDouble) t.doubles.resize(count);
    else t.int64s.resize(count);
    std::memcpy(t.type == kDouble ? static_cast<void*>(t.doubles.data()) : static_cast<void*>(t.int64s.data()), raw.data(), raw.size());
  } else if (have_raw) {
    if (raw.size() != count * 4)
      throw InputError(file, where_t, "raw_data holds " + std::to_string(raw.size()) + " bytes, the dims need " + std::to_string(count * 4));
    t.data.resize(count);
    std::memcpy(t.data.data(), raw.data(), raw.size());
  } else if (t.data.size() != count) {
    throw InputError(file, where_t, "float_data holds " + std::to_string(t.data.size()) + " values, the dims need " + std::to_string(count));
  }
  return t;
}

Attribute parse_attribute(const Field& outer, const std::string& file, const std::string& where) {
  Reader r(outer.data, outer.size, file, where);
  Attribute a;
  Field f;
  std::int64_t type = 0;
  while (r.next(&f)) {
    if (f.number == 1 && f.wire == 2) a.name = f.bytes();
    else if (f.number == 2 && f.wire == 5) {
      std::uint32_t bits = std::uint32_t(f.value);
      std::memcpy(&a.f, &bits, 4);
    } else if (f.number == 3 && f.wire == 0) a.i = std::int64_t(f.value);
    else if (f.number == 8 && f.wire == 0) a.ints.push_back(std::int64_t(f.value));
    else if (f.number == 20 && f.wire == 0) type = std::int64_t(f.value);
  }
  if (type != Attribute::kFloat && type != Attribute::kInt && type != Attribute::kInts)
    throw InputError(file, where + " '" + a.name + "'", "attribute type " + std::to_string(type) + " is not read");
  a.kind = Attribute::Kind(type);
  return a;
}

Node parse_node(const Field& outer, const std::string& file, const std::string& where) {
  Reader r(outer.data, outer.size, file, where);
  Node n;
  Field f;
  while (r.next(&f)) {
    if (f.wire != 2) continue;
    if (f.number == 1) n.inputs.push_back(f.bytes());
    else if (f.number == 2) n.outputs.push_back(f.bytes());
    else if (f.number == 3) n.name = f.bytes();
    else if (f.number == 4) n.op_type = f.bytes();
    else if (f.number == 5) n.attributes.push_back(parse_attribute(f, file, where + ".attribute"));
  }
  if (n.op_type.empty()) r.fail("a node without op_type");
  return n;
}

ValueInfo parse_value_info(const Field& outer, const std::string& file, const std::string& where) {
  ValueInfo v;
  Reader r(outer.data, outer.size, file, where);
  Field f;
  while (r.next(&f)) {
    if (f.number == 1 && f.wire == 2) v.name = f.bytes();
    if (f.number != 2 || f.wire != 2) continue;
    Reader type(f.data, f.size, file, where + ".type");
    Field t;
    while (type.next(&t)) {
      if (t.number != 1 || t.wire != 2) continue;
      Reader tensor(t.data, t.size, file, where + ".type.tensor_type");
      Field s;
      while (tensor.next(&s)) {
        if (s.number == 1 && s.wire == 0) v.type = DataType(s.value);
        if (s.number != 2 || s.wire != 2) continue;
        Reader shape(s.data, s.size, file, where + ".shape");
        Field d;
        while (shape.next(&d)) {
          if (d.number != 1 || d.wire != 2) continue;
          Reader dim(d.data, d.size, file, where + ".shape.dim");
          Field x;
          std::int64_t value = -1;
          std::string param;
          while (dim.next(&x)) {
            if (x.number == 1 && x.wire == 0) value = std::int64_t(x.value);
            if (x.number == 2 && x.wire == 2) param = x.bytes();
          }
          v.dims.push_back(value);
          v.dim_params.push_back(param);
        }
      }
    }
  }
  return v;
}

}  // namespace

const Attribute* Node::attribute(const std::string& n) const {
  for (const auto& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}

const Tensor* Graph::initializer(const std::string& n) const {
  for (const auto& t : initializers)
    if (t.name == n) return &t;
  return nullptr;
}

const std::string* Model::property(const std::string& k) const {
  for (const auto& [key, value] : metadata)
    if (key == k) return &value;
  return nullptr;
}

Tensor float_tensor(const std::string& name, std::vector<std::int64_t> dims, std::vector<float> data) {
  Tensor t;
  t.name = name;
  t.dims = std::move(dims);
  t.data = std::move(data);
  return t;
}

Tensor double_tensor(const std::string& name, std::vector<std::int64_t> dims, std::vector<double> data) {
  Tensor t;
  t.name = name;
  t.dims = std::move(dims);
  t.type = kDouble;
  t.doubles = std::move(data);
  return t;
}

Tensor int64_tensor(const std::string& name, std::vector<std::int64_t> dims, std::vector<std::int64_t> data) {
  Tensor t;
  t.name = name;
  t.dims = std::move(dims);
  t.type = kInt64;
  t.int64s = std::move(data);
  return t;
}

Node make_node(const std::string& op, std::vector<std::string> inputs, const std::string& output) {
  Node n;
  n.op_type = op;
  n.name = output;
  n.inputs = std::move(inputs);
  n.outputs = {output};
  return n;
}

Attribute int_attribute(const std::string& name, std::int64_t value) {
  Attribute a;
  a.name = name;
  a.kind = Attribute::kInt;
  a.i = value;
  return a;
}

Attribute ints_attribute(const std::string& name, std::vector<std::int64_t> values) {
  Attribute a;
  a.name = name;
  a.kind = Attribute::kInts;
  a.ints = std::move(values);
  return a;
}

Attribute float_attribute(const std::string& name, float value) {
  Attribute a;
  a.name = name;
  a.kind = Attribute::kFloat;
  a.f = value;
  return a;
}

std::string serialize(const Model& model) {
  std::string graph;
  for (const auto& n : model.graph.nodes) put_bytes(graph, 1, node_bytes(n));
  put_bytes(graph, 2, model.graph.name.empty() ? "refinery" : model.graph.name);
  for (const auto& t : model.graph.initializers) put_bytes(graph, 5, tensor_bytes(t));
  if (!model.graph.doc.empty()) put_bytes(graph, 10, model.graph.doc);
  for (const auto& v : model.graph.inputs) put_bytes(graph, 11, value_info_bytes(v));
  for (const auto& v : model.graph.outputs) put_bytes(graph, 12, value_info_bytes(v));
  std::string out;
  put_int(out, 1, model.ir_version);
  put_bytes(out, 2, model.producer_name);
  if (!model.producer_version.empty()) put_bytes(out, 3, model.producer_version);
  if (!model.doc.empty()) put_bytes(out, 6, model.doc);
  put_bytes(out, 7, graph);
  std::string opset;
  put_bytes(opset, 1, "");
  put_int(opset, 2, model.opset);
  put_bytes(out, 8, opset);
  for (const auto& [k, v] : model.metadata) {
    std::string entry;
    put_bytes(entry, 1, k);
    put_bytes(entry, 2, v);
    put_bytes(out, 14, entry);
  }
  return out;
}

Model parse(const std::string& bytes, const std::string& file) {
  Model m;
  m.ir_version = 0;
  m.opset = 0;
  m.producer_name.clear();
  Reader r(bytes.data(), bytes.size(), file, "ModelProto");
  Field f;
  bool have_graph = false;
  while (r.next(&f)) {
    if (f.number == 1 && f.wire == 0) m.ir_version = std::int64_t(f.value);
    else if (f.number == 2 && f.wire == 2) m.producer_name = f.bytes();
    else if (f.number == 3 && f.wire == 2) m.producer_version = f.bytes();
    else if (f.number == 6 && f.wire == 2) m.doc = f.bytes();
    else if (f.number == 8 && f.wire == 2) {
      Reader o(f.data, f.size, file, "opset_import");
      Field x;
      std::string domain;
      std::int64_t version = 0;
      while (o.next(&x)) {
        if (x.number == 1 && x.wire == 2) domain = x.bytes();
        if (x.number == 2 && x.wire == 0) version = std::int64_t(x.value);
      }
      if (domain.empty() || domain == "ai.onnx") m.opset = version;
    } else if (f.number == 14 && f.wire == 2) {
      Reader e(f.data, f.size, file, "metadata_props");
      Field x;
      std::string k, v;
      while (e.next(&x)) {
        if (x.number == 1 && x.wire == 2) k = x.bytes();
        if (x.number == 2 && x.wire == 2) v = x.bytes();
      }
      m.metadata.push_back({k, v});
    } else if (f.number == 7 && f.wire == 2) {
      have_graph = true;
      Reader g(f.data, f.size, file, "graph");
      Field x;
      while (g.next(&x)) {
        if (x.wire != 2) continue;
        switch (x.number) {
          case 1: m.graph.nodes.push_back(parse_node(x, file, "graph.node")); break;
          case 2: m.graph.name = x.bytes(); break;
          case 5: m.graph.initializers.push_back(parse_tensor(x, file, "graph.initializer")); break;
          case 10: m.graph.doc = x.bytes(); break;
          case 11: m.graph.inputs.push_back(parse_value_info(x, file, "graph.input")); break;
          case 12: m.graph.outputs.push_back(parse_value_info(x, file, "graph.output")); break;
          default: break;
        }
      }
    }
  }
  if (!have_graph) r.fail("no graph");
  if (m.ir_version <= 0) r.fail("no ir_version");
  return m;
}

void write_file(const std::string& path, const Model& model) { write_text_atomically(path, serialize(model)); }

Model read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot read the file");
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) throw InputError(path, "", "cannot read the file (a directory?)");
  if (size > (std::streamoff(1) << 32)) throw InputError(path, "", "larger than 4 GiB: not a model refinery wrote");
  in.seekg(0);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in.read(bytes.data(), size)) throw InputError(path, "", "cannot read the file");
  return parse(bytes, path);
}

}  // namespace refinery::onnx
