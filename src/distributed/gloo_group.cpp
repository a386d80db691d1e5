#include "src/distributed/gloo_group.h"

#ifdef REFINERY_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <cstdlib>

#include "src/core/error.h"

namespace refinery::distributed {

namespace {

#ifdef REFINERY_WITH_GLOO
class GlooGroup final : public Collective {
 public:
  GlooGroup(const GroupAddress& a, std::chrono::seconds timeout) : address_(a) {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(a.port);
    store_options.isServer = a.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(a.size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    try {
      store_ = c10::make_intrusive<c10d::TCPStore>(a.host, store_options);
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // The transport: the interface named by REFINERY_GLOO_INTERFACE; on
      // the loopback when the master is (ranks on one machine); else the
      // address this machine's hostname resolves to.
      const char* interface = std::getenv("REFINERY_GLOO_INTERFACE");
      const bool loopback = a.host == "localhost" || a.host.rfind("127.", 0) == 0;
      options->devices.push_back(interface && *interface ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
                                 : loopback          ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                     : c10d::ProcessGroupGloo::createDefaultDevice());
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, a.rank, a.size, options);
    } catch (const std::exception& e) {
      std::string what = e.what();
      what = what.substr(0, what.find('\n'));
      throw InputError("", "--master",
                       "rank " + std::to_string(a.rank) + " could not join the group at " + a.host + ":" +
                           std::to_string(a.port) + " within " + std::to_string(timeout.count()) +
                           " s (--join-timeout): " + what);
    }
  }
  int rank() const override { return address_.rank; }
  int size() const override { return address_.size; }
  void sum(std::vector<torch::Tensor>& tensors) override {
    for (auto& t : tensors) {
      // Gloo sums floating and integer types; bool and bytes go as int64.
      const auto type = t.scalar_type();
      const bool convert = type != torch::kFloat32 && type != torch::kFloat64 && type != torch::kInt64;
      torch::Tensor buffer = convert ? t.to(torch::kInt64) : t.contiguous();
      std::vector<at::Tensor> one{buffer};
      try {
        group_->allreduce(one)->wait();
      } catch (const std::exception& e) {
        std::string what = e.what();
        throw std::runtime_error("rank " + std::to_string(address_.rank) + ": a collective sum failed (" +
                                 what.substr(0, what.find('\n')) + "): another rank stopped?");
      }
      t = convert ? buffer.to(type) : buffer;
    }
  }
  std::string describe() const override {
    return "rank " + std::to_string(address_.rank) + " of " + std::to_string(address_.size) + " (gloo, " +
           address_.host + ":" + std::to_string(address_.port) + ")";
  }

 private:
  GroupAddress address_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};
#endif

}  // namespace

GroupAddress parse_master(const std::string& text, const std::string& flag) {
  const auto colon = text.rfind(':');
  GroupAddress a;
  if (colon == std::string::npos || colon == 0)
    throw InputError("", flag, "expected HOST:PORT, got '" + text + "'");
  a.host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  try {
    size_t used = 0;
    a.port = std::stoi(port, &used);
    if (used != port.size()) throw std::invalid_argument(port);
  } catch (const std::exception&) {
    throw InputError("", flag, "expected HOST:PORT with a numeric port, got '" + text + "'");
  }
  if (a.port < 1 || a.port > 65535) throw InputError("", flag, "port outside 1..65535 in '" + text + "'");
  return a;
}

std::shared_ptr<Collective> join_gloo_group(const GroupAddress& address, std::chrono::seconds timeout) {
  if (address.size < 1 || address.rank < 0 || address.rank >= address.size)
    throw InputError("", "--rank", "rank " + std::to_string(address.rank) + " outside a world of size " +
                                       std::to_string(address.size));
  if (address.size == 1) return std::shared_ptr<Collective>(&single_process(), [](Collective*) {});
#ifdef REFINERY_WITH_GLOO
  return std::make_shared<GlooGroup>(address, timeout);
#else
  throw InputError("", "--world-size", "this build has no multi-process training (configured with REFINERY_DISTRIBUTED=OFF)");
#endif
}

}  // namespace refinery::distributed
