// The data-parallel group of processes over TCP: LibTorch's c10d with the
// Gloo backend, rendezvous through a TCPStore that rank 0 serves at the
// master address. Only this file's implementation includes c10d. The ranks
// talk over the loopback when the master is 127.x or localhost, over the
// interface named by REFINERY_GLOO_INTERFACE (e.g. ib0) when set, else over
// the address this machine's hostname resolves to.
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "src/distributed/collective.h"

namespace refinery::distributed {

struct GroupAddress {
  std::string host;  // the master: where rank 0 serves the rendezvous store
  int port = 0;
  int rank = 0, size = 1;
};

// "HOST:PORT" (port 1..65535); InputError naming `flag` otherwise.
GroupAddress parse_master(const std::string& text, const std::string& flag = "--master");

// Joins the group (blocks until every rank has joined, at most `timeout`,
// which also bounds every later collective). InputError naming --master when
// the address cannot be bound or reached.
std::shared_ptr<Collective> join_gloo_group(const GroupAddress& address, std::chrono::seconds timeout);

}  // namespace refinery::distributed
