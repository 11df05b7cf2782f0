#include "sim/harness/shelf_node.h"

#include "netshelf/service/shelf.h"
#include "netshelf/service/shelf_handler.h"

namespace splitarray::sim {
namespace {

bool makes_durable(protocol::MessageType type) {
  using protocol::MessageType;
  switch (type) {
    case MessageType::kNvramAppend:
    case MessageType::kNvramTrim:
    case MessageType::kFragmentWrite:
    case MessageType::kFragmentDelete:
    case MessageType::kIndexInsert:
    case MessageType::kIndexRemove:
    case MessageType::kRegisterCas:
      return true;
    default:
      return false;
  }
}

// The shelf's handler, reporting each completed durable request to the persist hook.
class PersistPointHandler final : public protocol::RequestHandler {
 public:
  PersistPointHandler(protocol::RequestHandler& inner, const ShelfNode::PersistHook& hook)
      : inner_(inner), hook_(hook) {}

  Task<Result<protocol::Reply>> handle(protocol::RequestContext& context,
                                       protocol::Frame request) override {
    Result<protocol::Reply> reply = co_await inner_.handle(context, std::move(request));
    if (reply.ok() && hook_ && makes_durable(context.type)) hook_(context.type, context.peer);
    co_return reply;
  }

 private:
  protocol::RequestHandler& inner_;
  const ShelfNode::PersistHook& hook_;
};

}  // namespace

ShelfNode::ShelfNode(SimWorld& world, SimFabric& fabric, FaultPlan& plan, LogSink& log_sink,
                     netshelf::ShelfConfig config, LogLevel log_level)
    : world_(world),
      fabric_(fabric),
      plan_(plan),
      log_sink_(log_sink),
      config_(std::move(config)),
      log_level_(log_level),
      machine_("shelf-" + config_.listen.host, DiskModel{}) {}

ShelfNode::~ShelfNode() {
  ASSERT_MSG(current_ == nullptr, "ShelfNode destroyed while an incarnation runs");
  ASSERT_MSG(dead_.empty(), "ShelfNode destroyed before its dead incarnations were reaped");
}

void ShelfNode::start(bool format) {
  ASSERT(current_ == nullptr);
  ++incarnations_;
  current_ = std::make_unique<Incarnation>();
  SimProcessOptions options;
  options.name = "shelf#" + std::to_string(incarnations_);
  options.host = config_.listen.host;
  options.log_level = log_level_;
  current_->process =
      std::make_unique<SimProcess>(world_, fabric_, machine_, plan_, log_sink_, options);
  current_->process->spawn(serve(*current_, format));
}

Task<void> ShelfNode::serve(Incarnation& incarnation, bool format) {
  Env& env = incarnation.process->env();
  if (format) {
    Result<void> formatted = co_await netshelf::Shelf::format(env, config_, true);
    if (!formatted.ok()) {
      last_failure_ = "format: " + formatted.error().to_string();
      co_return;
    }
  }
  auto shelf = co_await netshelf::Shelf::open(env, config_);
  if (!shelf.ok()) {
    last_failure_ = "open: " + shelf.error().to_string();
    co_return;
  }
  netshelf::ShelfHandler handler(env, **shelf);
  PersistPointHandler counted(handler, persist_hook_);
  protocol::RpcServerOptions options;
  options.connections_max = config_.connections_max;
  options.inflight_per_connection_max = config_.inflight_per_connection_max;
  protocol::RpcServer server(env, counted, options);
  Result<Address> bound = server.listen(config_.listen);
  if (incarnation.stop_requested) {
    // Stopped or killed while recovering: never start serving.
  } else if (bound.ok()) {
    incarnation.server = &server;
    co_await server.serve();
    incarnation.server = nullptr;
  } else {
    last_failure_ = "listen: " + bound.error().to_string();
  }
  co_await (*shelf)->close();
}

void ShelfNode::crash(bool power_loss) {
  ASSERT(current_ != nullptr);
  if (power_loss) {
    current_->process->power_loss();
  } else {
    current_->process->kill();
  }
  current_->stop_requested = true;
  if (current_->server != nullptr) current_->server->stop();
  dead_.push_back(std::move(current_));
}

void ShelfNode::stop() {
  ASSERT(current_ != nullptr);
  current_->stop_requested = true;
  if (current_->server != nullptr) current_->server->stop();
  dead_.push_back(std::move(current_));
}

size_t ShelfNode::reap() {
  for (auto it = dead_.begin(); it != dead_.end();) {
    if ((*it)->process->finished()) {
      it = dead_.erase(it);
    } else {
      ++it;
    }
  }
  return dead_.size();
}

}  // namespace splitarray::sim
