#include "room/room.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <optional>

#include "base/log_text.h"
#include "crdt/transaction.h"
#include "crdt/updates.h"
#include "protocol/close_codes.h"
#include "protocol/message.h"
#include "room/strand_check.h"

namespace tandem::room {

namespace {
SharedFrame MakeFrame(std::vector<uint8_t> bytes) {
  return std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
}
// The same bytes under a reference count of their own, so that a weak pointer to the result
// expires when this recipient is done with it, whoever else shares the buffer.
SharedFrame ForOneRecipient(const SharedFrame& frame) {
  auto holder = std::make_shared<SharedFrame>(frame);
  return SharedFrame(holder, holder->get());
}
constexpr size_t kStep2CacheEntries = 8;
}  // namespace

Room::Room(std::string id, Strand strand, RoomOptions options, PersistenceServices persistence,
           Metrics& metrics)
    : id_(std::move(id)),
      strand_(std::move(strand)),
      options_(options),
      metrics_(metrics),
      clock_(persistence.clock != nullptr ? *persistence.clock : SystemClock::Instance()),
      state_(persistence.log != nullptr || persistence.snapshots != nullptr ? State::kLoading
                                                                            : State::kReady),
      awareness_timer_(clock_.MakeTimer(strand_)),
      events_(persistence.events),
      change_notify_(persistence.change_notify),
      change_timer_(events_ != nullptr ? clock_.MakeTimer(strand_) : nullptr),
      cluster_(persistence.cluster) {
  if (state_ == State::kLoading) {
    persistence_ = std::make_unique<RoomPersistence>(
        id_, strand_, persistence, metrics_, static_cast<RoomPersistence::Listener&>(*this));
  }
  InstallUpdateObserver();
}

void Room::InstallUpdateObserver() {
  doc_.OnUpdate([this](const std::vector<uint8_t>& update, const crdt::Transaction& t) {
    // Another node's change is notified (room.changed) by the node that received it.
    const bool remote = applying_remote_;
    OnUpdateApplied(update);
    if (events_ != nullptr && !remote) NoteChange(t);
  });
}

Room::~Room() {
  if (cluster_ != nullptr && attached_) cluster_->Detach(id_, this);
}

Room::State Room::state() const {
  TANDEM_DCHECK_ON_STRAND(strand_);
  return state_;
}

size_t Room::connection_count() const {
  TANDEM_DCHECK_ON_STRAND(strand_);
  return conns_.size();
}

const crdt::Doc& Room::doc() const {
  TANDEM_DCHECK_ON_STRAND(strand_);
  return doc_;
}

bool Room::CanUnload() const {
  TANDEM_DCHECK_ON_STRAND(strand_);
  return state_ != State::kLoading && conns_.empty() && pending_.empty() && outbox_.empty() &&
         (persistence_ == nullptr || persistence_->CanUnload());
}

// ---------------------------------------------------------------------------------------------
// Loading

void Room::Start() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->state_ != State::kLoading) return;
    self->persistence_->set_owner(self);
    self->persistence_->Load();
  });
}

Status Room::OnLoaded(const std::vector<Bytes>& parts, size_t from_store) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (state_ == State::kReady) {  // a resync (cluster mode)
    FinishResync(parts);
    return Status::Ok();
  }
  doc_.OnUpdate(nullptr);  // loading is not news for anyone
  Status result;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Bytes& part = parts[i];
    if (Status s = doc_.ApplyUpdate(part); !s.ok()) {
      // A log entry that does not decode (written by a bug, or damaged on disk) is skipped; the
      // snapshot store's copy must decode or the room does not start.
      if (i < from_store) {
        result = s;
        break;
      }
      spdlog::error("room={} local log entry does not decode: {}", Quoted(id_),
                    Quoted(s.message(), 256));
    }
    document_bytes_ += part.size();
  }
  InstallUpdateObserver();
  if (!result.ok()) return result;
  BecomeReady();
  return Status::Ok();
}

void Room::BecomeReady() {
  state_ = State::kReady;
  if (cluster_ != nullptr && persistence_) {
    covered_log_seq_ = persistence_->log_seq();
    cluster_->Attach(shared_from_this(), persistence_->log_position(), covered_log_seq_);
    attached_ = true;
    cluster_->QueryAwareness(id_);
  }
  RunWaiting();
}

void Room::RunWaiting() {
  std::deque<Waiting> waiting;
  waiting.swap(pending_);
  for (auto& w : waiting) {
    if (w.visit) {
      w.visit(*this);
    } else if (!w.frame) {
      DoJoin(std::move(w.conn));
    } else {
      DoReceive(w.conn, *w.frame);
    }
  }
}

void Room::OnLoadFailed(const std::string& why) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (state_ == State::kReady) {  // a resync failed: the room goes on and tries again
    spdlog::warn("room={} resync failed: {}; retrying in 1 s", Quoted(id_), Quoted(why, 512));
    if (!resync_timer_) resync_timer_ = clock_.MakeTimer(strand_);
    resync_timer_->ExpireAt(clock_.Now() + std::chrono::seconds(1), [weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->resyncing_ = false;
        self->Resync();
      }
    });
    return;
  }
  state_ = State::kFailed;
  ++metrics_.room_load_failures;
  spdlog::error("room={} cannot be loaded: {}; clients get 1013", Quoted(id_), Quoted(why, 512));
  std::deque<Waiting> waiting;
  waiting.swap(pending_);
  for (auto& w : waiting) {
    if (w.visit) {
      w.visit(*this);  // it sees state() == kFailed
    } else if (!w.frame) {
      if (on_join_done_) on_join_done_(*this);
      metrics_.CountRefusal(protocol::kCloseTryAgain);
      w.conn->Close(protocol::kCloseTryAgain, "room unavailable, try again later");
    }
  }
  if (on_failed_) on_failed_();
}

Bytes Room::EncodeState() {
  Bytes state = doc_.EncodeStateAsUpdate();
  document_bytes_ = state.size();
  return state;
}

// ---------------------------------------------------------------------------------------------
// Connections and messages

void Room::Join(std::shared_ptr<Connection> conn) {
  boost::asio::post(strand_, [self = shared_from_this(), conn = std::move(conn)]() mutable {
    if (self->close_joins_code_ != 0) {
      // Closed for shutdown: a join that was on its way (its handshake done just before) is
      // closed too, or the server would wait for it until the shutdown timeout.
      if (self->on_join_done_) self->on_join_done_(*self);
      conn->Close(self->close_joins_code_, self->close_joins_reason_);
      return;
    }
    if (self->state_ == State::kLoading || self->erasing_) {
      self->pending_.push_back({std::move(conn), nullptr, nullptr});
      return;
    }
    self->DoJoin(std::move(conn));
  });
}

void Room::Leave(std::shared_ptr<Connection> conn) {
  boost::asio::post(strand_, [self = shared_from_this(), conn = std::move(conn)] {
    if (self->state_ == State::kLoading || self->erasing_) {
      // Left before the room was ready: forget its queued work.
      std::erase_if(self->pending_, [&](const Waiting& w) {
        if (w.visit || w.conn != conn) return false;
        if (!w.frame && self->on_join_done_) self->on_join_done_(*self);
        return true;
      });
      if (self->state_ == State::kLoading) return;
    }
    self->DoLeave(conn);
  });
}

void Room::Receive(std::shared_ptr<Connection> conn, std::shared_ptr<std::vector<uint8_t>> frame) {
  // A joined connection's read runs on this strand already: handled at once, the turn of the
  // thread's loop needs no second pass (a post costs one more epoll_wait per message). A
  // connection whose join is still queued goes behind it.
  if (strand_.running_in_this_thread() && conns_.contains(conn.get())) {
    ReceiveOnStrand(conn, std::move(frame));
    return;
  }
  boost::asio::post(strand_, [self = shared_from_this(), conn = std::move(conn),
                              frame = std::move(frame)] { self->ReceiveOnStrand(conn, frame); });
}

void Room::ReceiveOnStrand(const std::shared_ptr<Connection>& conn,
                           std::shared_ptr<std::vector<uint8_t>> frame) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (state_ == State::kLoading || erasing_) {
    pending_.push_back({conn, std::move(frame), nullptr});
    return;
  }
  DoReceive(conn, *frame);
}

void Room::CloseAll(uint16_t code, std::string reason) {
  boost::asio::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)] {
    self->close_joins_code_ = code;
    self->close_joins_reason_ = reason;
    for (auto& [ptr, state] : self->conns_) state.conn->Close(code, reason);
    for (auto& w : self->pending_) {
      if (w.conn) w.conn->Close(code, reason);
    }
  });
}

void Room::DoJoin(std::shared_ptr<Connection> conn) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (on_join_done_) on_join_done_(*this);
  if (state_ == State::kFailed || log_unavailable_) {
    metrics_.CountRefusal(protocol::kCloseTryAgain);
    conn->Close(protocol::kCloseTryAgain, "room unavailable, try again later");
    if (conns_.empty() && on_empty_) on_empty_();
    return;
  }
  if (conns_.size() >= options_.max_connections) {
    metrics_.CountRefusal(protocol::kCloseTooMany);
    conn->Close(protocol::kCloseTooMany, "too many connections in this room");
    if (conns_.empty() && on_empty_) on_empty_();
    return;
  }
  // Greet with our state vector so the client pushes what we lack, then the awareness states.
  conn->Send(MakeFrame(protocol::EncodeSyncStep1(doc_.EncodeStateVector())));
  if (awareness_.size() > 0)
    conn->Send(MakeFrame(protocol::EncodeAwareness(awareness_.EncodeAll())));
  const Connection* key = conn.get();
  ConnState state;
  state.conn = std::move(conn);
  const Connection& joined = *state.conn;
  conns_.emplace(key, std::move(state));
  if (persistence_) persistence_->OnConnectionsChanged(conns_.size());
  if (events_ != nullptr) {
    events_->OnUserJoined(id_, joined.id(), joined.user_id(), joined.read_only());
  }
}

void Room::DoLeave(const std::shared_ptr<Connection>& conn) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  auto it = conns_.find(conn.get());
  if (it == conns_.end()) return;
  std::vector<uint64_t> controlled = std::move(it->second.awareness_clients);
  conns_.erase(it);
  if (events_ != nullptr) {
    events_->OnUserLeft(id_, conn->id(), conn->user_id(), conn->read_only());
    if (conns_.empty() && state_ != State::kDeleted) events_->OnEmpty(id_);
  }
  std::erase_if(outbox_, [&](const Outgoing& o) { return o.to == conn; });
  if (!controlled.empty()) {
    auto change = awareness_.Remove(controlled);
    if (!change.empty()) {
      cached_awareness_all_.reset();
      BroadcastAwareness(change.removed, nullptr);
    }
  }
  if (persistence_) persistence_->OnConnectionsChanged(conns_.size());
  if (conns_.empty() && on_empty_) on_empty_();
}

void Room::DoReceive(const std::shared_ptr<Connection>& conn, const std::vector<uint8_t>& frame) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (conns_.find(conn.get()) == conns_.end()) return;  // left (or refused) meanwhile
  auto parsed = protocol::ParseMessage(frame);
  if (!parsed.ok()) {
    metrics_.CountRefusal(protocol::kCloseBadMessage);
    spdlog::info("room={} conn={} malformed message: {}", Quoted(id_), conn->id(),
                 Quoted(parsed.status().message(), 256));
    conn->Close(protocol::kCloseBadMessage, "malformed message: " + parsed.status().message());
    return;
  }
  const protocol::Message& m = *parsed;
  auto count = [&](MessageKind kind) {
    ++metrics_.messages_in[kind];
    metrics_.bytes_in[kind] += frame.size();
  };
  switch (m.type) {
    case protocol::MessageType::kSync:
      if (m.sync_type == protocol::SyncType::kStep1) {
        count(kMsgStep1);
        HandleSyncStep1(conn, m.payload);
        break;
      }
      count(m.sync_type == protocol::SyncType::kStep2 ? kMsgStep2 : kMsgUpdate);
      if (conn->read_only()) {
        ++metrics_.readonly_updates_dropped;
        spdlog::debug("room={} conn={} dropped update from read-only connection", Quoted(id_),
                      conn->id());
        break;
      }
      HandleUpdate(conn, m.payload);
      break;
    case protocol::MessageType::kAwareness:
      count(kMsgAwareness);
      HandleAwareness(conn, m.payload);
      break;
    case protocol::MessageType::kQueryAwareness:
      count(kMsgQueryAwareness);
      HandleQueryAwareness(conn);
      break;
    case protocol::MessageType::kAuth:
      count(kMsgAuth);
      break;  // stock clients never send it; auth happens at connect
  }
}

SharedFrame Room::SyncStep2For(std::span<const uint8_t> sv_bytes) {
  const bool empty_sv = sv_bytes.size() == 1 && sv_bytes[0] == 0;
  if (empty_sv && cached_full_step2_) return cached_full_step2_;
  for (const auto& [sv, frame] : step2_by_sv_) {
    if (std::equal(sv.begin(), sv.end(), sv_bytes.begin(), sv_bytes.end())) return frame;
  }
  auto sv = crdt::DecodeStateVector(sv_bytes);
  if (!sv.ok()) return nullptr;
  std::vector<uint8_t> update = doc_.EncodeStateAsUpdate(*sv);
  if (empty_sv) document_bytes_ = update.size();
  SharedFrame frame = MakeFrame(protocol::EncodeSyncStep2(update));
  if (empty_sv) {
    cached_full_step2_ = frame;
  } else {
    if (step2_by_sv_.size() >= kStep2CacheEntries) step2_by_sv_.erase(step2_by_sv_.begin());
    step2_by_sv_.emplace_back(std::vector<uint8_t>(sv_bytes.begin(), sv_bytes.end()), frame);
  }
  return frame;
}

void Room::HandleSyncStep1(const std::shared_ptr<Connection>& conn, std::span<const uint8_t> sv) {
  ConnState& state = conns_[conn.get()];
  // A reply to this connection that is not yet written answers this request too: it holds the
  // document as of then, and every change since is broadcast to the connection after it.
  // Without this a client repeating step 1 without reading made the room hold a copy of the
  // document per request.
  if (!state.step2_in_flight.expired()) {
    ++metrics_.replies_coalesced;
    return;
  }
  SharedFrame step2 = SyncStep2For(sv);
  if (!step2) {
    metrics_.CountRefusal(protocol::kCloseBadMessage);
    conn->Close(protocol::kCloseBadMessage, "malformed state vector");
    return;
  }
  SharedFrame reply = ForOneRecipient(step2);
  state.step2_in_flight = reply;
  SendWhenDurable(std::move(reply), conn, nullptr);
}

void Room::CloseOverLimit(const std::shared_ptr<Connection>& conn, const std::string& why) {
  metrics_.CountRefusal(protocol::kCloseOverLimit);
  spdlog::info("room={} conn={} closed: {}", Quoted(id_), conn->id(), Quoted(why, 256));
  conn->Close(protocol::kCloseOverLimit, why);
}

void Room::HandleUpdate(const std::shared_ptr<Connection>& conn, std::span<const uint8_t> update) {
  if (options_.max_document_bytes != 0 && document_bytes_ > options_.max_document_bytes) {
    CloseOverLimit(conn, "limit: the document holds about " + std::to_string(document_bytes_) +
                             " bytes, more than the " +
                             std::to_string(options_.max_document_bytes) + " allowed");
    return;
  }
  const uint64_t pending_additions = doc_.pending_additions();
  applying_from_ = conn.get();
  Status s = doc_.ApplyUpdate(update, crdt::UpdateFormat::kV1, options_.update_limits);
  applying_from_ = nullptr;
  // Structs waiting for missing dependencies are not in the transaction's update; log the raw
  // update too so they survive a crash (only when it left some waiting).
  if (doc_.pending_additions() != pending_additions && persistence_) persistence_->Append(update);
  if (s.code() == StatusCode::kResourceExhausted) {
    ++metrics_.updates_rejected;
    CloseOverLimit(conn, s.message());
    return;
  }
  if (!s.ok()) {
    ++metrics_.updates_rejected;
    metrics_.CountRefusal(protocol::kCloseBadMessage);
    spdlog::info("room={} conn={} rejected update: {}", Quoted(id_), conn->id(),
                 Quoted(s.message(), 256));
    conn->Close(protocol::kCloseBadMessage, "malformed update: " + s.message());
    return;
  }
  ++metrics_.updates_applied;
}

void Room::OnUpdateApplied(const std::vector<uint8_t>& update) {
  cached_full_step2_.reset();
  step2_by_sv_.clear();
  document_bytes_ += update.size();
  if (applying_remote_) {
    // Another node's change, durable in the shared log already.
    SendNow(Outgoing{0, MakeFrame(protocol::EncodeSyncUpdate(update)), nullptr, nullptr, nullptr});
    return;
  }
  if (persistence_) persistence_->Append(update);
  SendWhenDurable(MakeFrame(protocol::EncodeSyncUpdate(update)), nullptr, applying_from_);
}

void Room::HandleAwareness(const std::shared_ptr<Connection>& conn,
                           std::span<const uint8_t> update) {
  ConnState& state = conns_[conn.get()];
  protocol::AwarenessLimits limits;
  limits.max_entries = options_.max_awareness_states;
  limits.max_state_bytes = options_.max_awareness_bytes;
  limits.max_total_bytes = options_.max_awareness_room_bytes;
  if (options_.max_awareness_states != 0) {
    limits.max_new_states = options_.max_awareness_states -
                            std::min(options_.max_awareness_states, state.awareness_clients.size());
  }
  auto change = awareness_.Apply(update, protocol::Awareness::Clock::now(), limits);
  if (!change.ok() && change.status().code() == StatusCode::kResourceExhausted) {
    CloseOverLimit(conn, change.status().message());
    return;
  }
  if (!change.ok()) {
    metrics_.CountRefusal(protocol::kCloseBadMessage);
    conn->Close(protocol::kCloseBadMessage,
                "malformed awareness update: " + change.status().message());
    return;
  }
  ScheduleAwarenessCheck();  // also prunes the clocks of clients without a state
  if (change->empty()) return;
  cached_awareness_all_.reset();
  auto& controlled = state.awareness_clients;
  for (uint64_t c : change->added) controlled.push_back(c);
  for (uint64_t c : change->removed) std::erase(controlled, c);
  BroadcastAwareness(change->All(), conn.get());
}

void Room::HandleQueryAwareness(const std::shared_ptr<Connection>& conn) {
  // Every state, encoded once while awareness is unchanged; a connection whose previous answer
  // is still unsent gets no second one (it would hold a copy per query).
  ConnState& state = conns_[conn.get()];
  if (!state.awareness_in_flight.expired()) {
    ++metrics_.replies_coalesced;
    return;
  }
  if (!cached_awareness_all_) {
    cached_awareness_all_ = MakeFrame(protocol::EncodeAwareness(awareness_.EncodeAll()));
  }
  SharedFrame reply = ForOneRecipient(cached_awareness_all_);
  state.awareness_in_flight = reply;
  conn->Send(std::move(reply));
}

void Room::BroadcastAwareness(const std::vector<uint64_t>& clients, const Connection* except) {
  SendAwarenessLocally(clients, except);
  if (cluster_ == nullptr) return;
  // Only this node's clients are this node's to publish; states of other nodes' clients that
  // timed out here are forgotten here.
  std::vector<uint64_t> local;
  for (uint64_t c : clients) {
    if (remote_awareness_.erase(c) == 0) local.push_back(c);
  }
  if (!local.empty()) cluster_->PublishAwareness(id_, awareness_.Encode(local));
}

void Room::SendAwarenessLocally(const std::vector<uint64_t>& clients, const Connection* except) {
  // Awareness is ephemeral: it never waits for the log.
  SendNow(Outgoing{0, MakeFrame(protocol::EncodeAwareness(awareness_.Encode(clients))), nullptr,
                   except, nullptr});
}

void Room::SendNow(const Outgoing& out) {
  if (out.then) out.then();
  if (!out.frame) return;
  if (out.to) {
    if (conns_.count(out.to.get()) > 0) out.to->Send(out.frame);
    return;
  }
  std::optional<Connection::BroadcastScope> broadcast;
  if (conns_.size() > 2) broadcast.emplace();
  for (auto& [ptr, state] : conns_) {
    if (ptr != out.except) state.conn->Send(out.frame);
  }
}

void Room::SendWhenDurable(SharedFrame frame, std::shared_ptr<Connection> to,
                           const Connection* except) {
  Outgoing out{appended(), std::move(frame), std::move(to), except, nullptr};
  if (durable() >= appended() && outbox_.empty()) {
    SendNow(out);
    return;
  }
  if (out.to) {
    // What one connection can make the room hold for it is bounded like its send queue.
    auto it = conns_.find(out.to.get());
    if (it == conns_.end()) return;
    const size_t size = out.frame->size();
    if (it->second.outbox_bytes > 0 &&
        it->second.outbox_bytes + size > options_.max_queued_reply_bytes) {
      ++metrics_.slow_client_closes;
      metrics_.CountRefusal(protocol::kClosePolicy);
      out.to->Close(protocol::kClosePolicy, "client too slow: replies waiting over the limit");
      return;
    }
    it->second.outbox_bytes += size;
  }
  outbox_.push_back(std::move(out));
}

void Room::OnDurable(uint64_t) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (log_unavailable_ && durable() >= appended()) {
    log_unavailable_ = false;
    spdlog::info("room={} log reachable again; accepting clients", Quoted(id_));
  }
  FlushOutbox();
}

void Room::OnLogUnavailable(const std::string& why) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (cluster_ == nullptr || log_unavailable_) return;
  // Clients re-send what they have on reconnect (the sync handshake), on any node.
  log_unavailable_ = true;
  spdlog::warn("room={} log unavailable ({}); closing {} connection(s) with 1013", Quoted(id_),
               Quoted(why, 256), conns_.size());
  for (auto& [ptr, state] : conns_) {
    metrics_.CountRefusal(protocol::kCloseTryAgain);
    state.conn->Close(protocol::kCloseTryAgain, "storage unavailable, try again later");
  }
}

void Room::FlushOutbox() {
  while (!outbox_.empty() && outbox_.front().required_seq <= durable()) {
    const Outgoing& out = outbox_.front();
    if (out.to) {
      auto it = conns_.find(out.to.get());
      if (it != conns_.end()) it->second.outbox_bytes -= out.frame->size();
    }
    SendNow(out);
    outbox_.pop_front();
  }
}

// ---------------------------------------------------------------------------------------------
// Persistence requests

void Room::SaveForShutdown(std::function<void()> done) {
  boost::asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    if (!self->persistence_ || self->state_ != State::kReady) {
      done();
      return;
    }
    self->persistence_->SaveForShutdown(std::move(done));
  });
}

void Room::CompactForUnload(std::function<void()> done) {
  boost::asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    if (!self->persistence_ || self->state_ != State::kReady) {
      if (done) done();
      return;
    }
    self->persistence_->CompactForUnload(std::move(done));
  });
}

void Room::ResumeSaves() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->persistence_) self->persistence_->ResumeSaves();
  });
}

void Room::Visit(std::function<void(Room&)> fn) {
  boost::asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)]() mutable {
    if (self->state_ == State::kLoading || self->erasing_) {
      self->pending_.push_back({nullptr, nullptr, std::move(fn)});
      return;
    }
    fn(*self);
  });
}

const protocol::Awareness& Room::awareness() const {
  TANDEM_DCHECK_ON_STRAND(strand_);
  return awareness_;
}

void Room::ForEachConnection(const std::function<void(const Connection&)>& fn) const {
  TANDEM_DCHECK_ON_STRAND(strand_);
  for (const auto& [ptr, state] : conns_) fn(*state.conn);
}

size_t Room::document_bytes() const {
  TANDEM_DCHECK_ON_STRAND(strand_);
  return document_bytes_;
}

Status Room::ApplyEdit(const std::function<Status(crdt::Doc&)>& edit) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (state_ != State::kReady) return UnavailableError("room not loaded");
  return edit(doc_);
}

Status Room::ApplyUpdate(std::span<const uint8_t> update, crdt::UpdateFormat format) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (state_ != State::kReady) return UnavailableError("room not loaded");
  if (options_.max_document_bytes != 0 && document_bytes_ > options_.max_document_bytes) {
    return ResourceExhaustedError("limit: the document holds about " +
                                  std::to_string(document_bytes_) + " bytes, more than the " +
                                  std::to_string(options_.max_document_bytes) + " allowed");
  }
  const uint64_t pending_additions = doc_.pending_additions();
  Status s = doc_.ApplyUpdate(update, format, options_.update_limits);
  if (doc_.pending_additions() != pending_additions && persistence_) {
    // The log keeps v1: convert what a v2 update left waiting.
    if (format == crdt::UpdateFormat::kV1) {
      persistence_->Append(update);
    } else if (auto v1 = crdt::ConvertUpdateFormat(update, format, crdt::UpdateFormat::kV1);
               v1.ok()) {
      persistence_->Append(*v1);
    }
  }
  if (s.ok()) ++metrics_.updates_applied;
  return s;
}

void Room::WhenDurable(std::function<void()> fn) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (durable() >= appended() && outbox_.empty()) {
    fn();
    return;
  }
  outbox_.push_back(Outgoing{appended(), nullptr, nullptr, nullptr, std::move(fn)});
}

void Room::Erase(std::function<void(Status, size_t)> done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (state_ != State::kReady || erasing_) {
    done(UnavailableError(state_ == State::kDeleted ? "the room was deleted"
                                                    : "the room is not ready"),
         0);
    return;
  }
  if (!persistence_) {
    FinishErase(Status::Ok(), 0, done);
    return;
  }
  erasing_ = true;
  persistence_->Erase(
      [self = shared_from_this(), done = std::move(done)](Status s, size_t elsewhere) {
        self->FinishErase(std::move(s), elsewhere, done);
      });
}

void Room::FinishErase(Status s, size_t connections_elsewhere,
                       const std::function<void(Status, size_t)>& done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  erasing_ = false;
  if (!s.ok()) {
    RunWaiting();  // nothing was erased: what waited goes on
    done(std::move(s), 0);
    return;
  }
  // Other nodes close theirs when they hear of the erase (ClusterNode::Erased).
  const size_t closed = conns_.size() + connections_elsewhere;
  CloseAsDeleted();
  if (cluster_ != nullptr) cluster_->Erased(id_);
  if (events_ != nullptr) events_->OnDeleted(id_);
  done(Status::Ok(), closed);
}

void Room::CloseAsDeleted() {
  state_ = State::kDeleted;
  spdlog::warn("room={} deleted; closing {} connection(s) with {}", Quoted(id_), conns_.size(),
               static_cast<int>(protocol::kCloseRoomDeleted));
  close_joins_code_ = protocol::kCloseRoomDeleted;
  close_joins_reason_ = "room deleted";
  for (auto& [ptr, state] : conns_) state.conn->Close(close_joins_code_, close_joins_reason_);
  conns_.clear();
  outbox_.clear();
  awareness_timer_->Cancel();
  if (change_timer_) change_timer_->Cancel();
  changed_roots_.clear();
  burst_started_.reset();
  // Joins that waited are closed too; visits see kDeleted (the API looks again, in a new room).
  std::deque<Waiting> waiting;
  waiting.swap(pending_);
  for (auto& w : waiting) {
    if (w.visit) {
      w.visit(*this);
    } else if (!w.frame) {
      if (on_join_done_) on_join_done_(*this);
      w.conn->Close(close_joins_code_, close_joins_reason_);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// room.changed notifications

void Room::NoteChange(const crdt::Transaction& t) {
  for (std::string& name : crdt::ChangedRootNames(t)) {
    if (std::find(changed_roots_.begin(), changed_roots_.end(), name) == changed_roots_.end()) {
      changed_roots_.push_back(std::move(name));
    }
  }
  const auto now = clock_.Now();
  last_change_ = now;
  if (!burst_started_) burst_started_ = now;
  const auto at = std::min(now + change_notify_.quiet, *burst_started_ + change_notify_.max);
  change_timer_->ExpireAt(at, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->OnChangeTimer();
  });
}

void Room::OnChangeTimer() {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (!burst_started_ || state_ != State::kReady) return;
  burst_started_.reset();
  std::vector<std::string> roots;
  roots.swap(changed_roots_);
  events_->OnChanged(id_, doc_.EncodeStateVector(), std::move(roots));
}

void Room::SaveNow(std::function<void(Status)> done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (!persistence_ || state_ != State::kReady) {
    done(Status(StatusCode::kFailedPrecondition, "this room has no snapshot store"));
    return;
  }
  persistence_->SaveNow(std::move(done));
}

// ---------------------------------------------------------------------------------------------
// Awareness timeouts

void Room::ScheduleAwarenessCheck() {
  // Clients renew their state every 15 s; states silent for awareness_timeout are dropped,
  // as y-protocols' own check does.
  if (awareness_timer_running_) return;
  awareness_timer_running_ = true;
  awareness_timer_->ExpireAt(clock_.Now() + options_.awareness_timeout / 3,
                             [weak = weak_from_this()] {
                               if (auto self = weak.lock()) self->OnAwarenessCheck();
                             });
}

void Room::OnAwarenessCheck() {
  TANDEM_DCHECK_ON_STRAND(strand_);
  awareness_timer_running_ = false;
  auto change =
      awareness_.RemoveOutdated(protocol::Awareness::Clock::now(), options_.awareness_timeout);
  if (!change.empty()) {
    for (auto& [ptr, state] : conns_) {
      for (uint64_t c : change.removed) std::erase(state.awareness_clients, c);
    }
    cached_awareness_all_.reset();
    BroadcastAwareness(change.removed, nullptr);
  }
  if (awareness_.size() > 0 || awareness_.known_clients() > 0) ScheduleAwarenessCheck();
}

// ---------------------------------------------------------------------------------------------
// Cluster mode

void Room::ApplyLogEntry(uint64_t seq, std::shared_ptr<const Bytes> update, bool own) {
  // The relay reads on the room's own thread as a rule: the entry is applied at once there (a
  // post would cost the thread one more turn of its loop), behind what the strand has queued.
  boost::asio::dispatch(strand_, [self = shared_from_this(), seq, update = std::move(update), own] {
    if (self->state_ != State::kReady || self->resyncing_ || self->erasing_) return;
    if (seq <= self->covered_log_seq_) return;  // in the document since the load
    if (seq > self->covered_log_seq_ + 1) {
      spdlog::warn("room={} missed log entries {}..{} (trimmed before they were read); resyncing",
                   Quoted(self->id_), self->covered_log_seq_ + 1, seq - 1);
      self->Resync();
      return;
    }
    self->covered_log_seq_ = seq;
    if (own) return;
    self->applying_remote_ = true;
    Status s =
        self->doc_.ApplyUpdate(*update, crdt::UpdateFormat::kV1, self->options_.update_limits);
    self->applying_remote_ = false;
    if (!s.ok()) {
      ++self->metrics_.log_entries_skipped;
      spdlog::error("room={} log entry {} skipped: {}", Quoted(self->id_), seq,
                    Quoted(s.message(), 256));
      return;
    }
    ++self->metrics_.log_entries_relayed;
  });
}

void Room::Resync() {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (resyncing_ || !persistence_) return;
  resyncing_ = true;
  ++metrics_.resyncs;
  persistence_->Load();  // answers through OnLoaded / OnLoadFailed, with state_ kReady
}

void Room::FinishResync(const std::vector<Bytes>& parts) {
  applying_remote_ = true;
  for (const Bytes& part : parts) {
    if (Status s = doc_.ApplyUpdate(part); !s.ok()) {
      spdlog::error("room={} resync: a part does not decode: {}", Quoted(id_),
                    Quoted(s.message(), 256));
    }
  }
  applying_remote_ = false;
  resyncing_ = false;
  covered_log_seq_ = std::max(covered_log_seq_, persistence_->log_seq());
  cluster_->Attach(shared_from_this(), persistence_->log_position(), persistence_->log_seq());
  spdlog::info("room={} resynced through log entry {}", Quoted(id_), covered_log_seq_);
}

void Room::ApplyRemoteAwareness(std::string node, std::shared_ptr<const Bytes> update) {
  boost::asio::post(
      strand_, [self = shared_from_this(), node = std::move(node), update = std::move(update)] {
        if (self->state_ != State::kReady) return;
        protocol::AwarenessLimits limits;
        limits.max_total_bytes = self->options_.max_awareness_room_bytes;
        auto change = self->awareness_.Apply(*update, protocol::Awareness::Clock::now(), limits);
        if (!change.ok()) {
          spdlog::warn("room={} awareness from node {} refused: {}", Quoted(self->id_),
                       Quoted(node), Quoted(change.status().message(), 256));
          return;
        }
        self->ScheduleAwarenessCheck();
        if (change->empty()) return;
        self->cached_awareness_all_.reset();
        for (uint64_t c : change->added) self->remote_awareness_[c] = node;
        for (uint64_t c : change->removed) self->remote_awareness_.erase(c);
        self->SendAwarenessLocally(change->All(), nullptr);
      });
}

void Room::DropNodeAwareness(std::string node) {
  boost::asio::post(strand_, [self = shared_from_this(), node = std::move(node)] {
    std::vector<uint64_t> gone;
    for (const auto& [client, from] : self->remote_awareness_) {
      if (from == node) gone.push_back(client);
    }
    if (gone.empty()) return;
    for (uint64_t c : gone) self->remote_awareness_.erase(c);
    auto change = self->awareness_.Remove(gone);
    if (change.empty()) return;
    self->cached_awareness_all_.reset();
    self->SendAwarenessLocally(change.removed, nullptr);
  });
}

void Room::RepublishAwareness() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->cluster_ == nullptr || self->state_ != State::kReady) return;
    std::vector<uint64_t> local;
    for (const auto& [ptr, state] : self->conns_) {
      local.insert(local.end(), state.awareness_clients.begin(), state.awareness_clients.end());
    }
    if (!local.empty()) self->cluster_->PublishAwareness(self->id_, self->awareness_.Encode(local));
  });
}

void Room::CloseErased(std::function<void()> done) {
  boost::asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
    if (self->state_ == State::kReady && !self->erasing_) self->CloseAsDeleted();
    done();
  });
}

}  // namespace tandem::room
