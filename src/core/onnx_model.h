// ONNX models without an ONNX library: the protobuf wire format of the
// messages refinery writes (ModelProto with one graph of nodes, float
// initializers, typed inputs and outputs, metadata properties) and a reader
// of the same subset, for the networks refinery exports (issue 18 item 3).
// Field numbers and types are those of onnx/onnx.proto (ONNX IR version 8,
// the version Debian's python3-onnx 1.12 checks); the files are verified by
// onnx.checker and run in onnxruntime in the tests. LibTorch-free.
//
// The reader takes outside input: every length, tag and nesting depth is
// checked against the bytes there are, and anything malformed is an
// InputError naming the file and the field. Fields it does not use are
// skipped; tensors other than float, double and int64 are refused.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace refinery::onnx {

// Element types (TensorProto.DataType) refinery writes and reads.
enum DataType { kFloat = 1, kInt64 = 7, kBool = 9, kDouble = 11 };

struct Tensor {  // an initializer: float, double or int64
  std::string name;
  std::vector<std::int64_t> dims;
  DataType type = kFloat;
  // Row-major, the product of dims elements, in the vector of `type`.
  std::vector<float> data;
  std::vector<double> doubles;
  std::vector<std::int64_t> int64s;
};

struct Attribute {
  enum Kind { kFloat = 1, kInt = 2, kInts = 7 } kind = kInt;
  std::string name;
  float f = 0.0f;
  std::int64_t i = 0;
  std::vector<std::int64_t> ints;
};

struct Node {
  std::string op_type, name;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
  const Attribute* attribute(const std::string& name) const;  // nullptr when absent
};

struct ValueInfo {  // a tensor input or output; a dimension < 0 is symbolic, named by dim_params
  std::string name;
  DataType type = kFloat;
  std::vector<std::int64_t> dims;
  std::vector<std::string> dim_params;  // one per dim ("" for fixed ones)
};

struct Graph {
  std::string name, doc;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs;
  const Tensor* initializer(const std::string& name) const;  // nullptr when absent
};

struct Model {
  std::int64_t ir_version = 8;
  std::int64_t opset = 13;  // of the default domain
  std::string producer_name = "refinery", producer_version, doc;
  Graph graph;
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props, in order
  const std::string* property(const std::string& key) const;  // nullptr when absent
};

// Builders for the graphs refinery writes.
Tensor float_tensor(const std::string& name, std::vector<std::int64_t> dims, std::vector<float> data);
Tensor double_tensor(const std::string& name, std::vector<std::int64_t> dims, std::vector<double> data);
Tensor int64_tensor(const std::string& name, std::vector<std::int64_t> dims, std::vector<std::int64_t> data);
// A node named after its (single) output.
Node make_node(const std::string& op, std::vector<std::string> inputs, const std::string& output);
Attribute int_attribute(const std::string& name, std::int64_t value);
Attribute ints_attribute(const std::string& name, std::vector<std::int64_t> values);
Attribute float_attribute(const std::string& name, float value);

// The serialised ModelProto.
std::string serialize(const Model& model);
// Parses a ModelProto (the subset above); InputError naming `file`.
Model parse(const std::string& bytes, const std::string& file);
// Writes atomically / reads a whole file (InputError naming the path).
void write_file(const std::string& path, const Model& model);
Model read_file(const std::string& path);

}  // namespace refinery::onnx
