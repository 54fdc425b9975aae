#include "server/room.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "base/log_text.h"
#include "protocol/close_codes.h"
#include "protocol/message.h"

namespace tandem::server {

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
using SteadyClock = std::chrono::steady_clock;
}  // namespace

Room::Room(std::string id, Strand strand, RoomOptions options, RoomServices services,
           Metrics& metrics)
    : id_(std::move(id)),
      strand_(std::move(strand)),
      options_(options),
      services_(std::move(services)),
      metrics_(metrics),
      state_(services_.store != nullptr ? State::kLoading : State::kReady),
      awareness_timer_(strand_),
      policy_(services_.save_policy),
      save_timer_(strand_) {
  doc_.OnUpdate([this](const std::vector<uint8_t>& update, const crdt::Transaction&) {
    OnUpdateApplied(update);
  });
}

// ---------------------------------------------------------------------------------------------
// Loading

void Room::Start() {
  if (state_ != State::kLoading) return;
  load_started_ = std::chrono::steady_clock::now();
  boost::asio::post(services_.io, [self = shared_from_this()] {
    auto loaded = self->services_.store->Load(self->id_);
    boost::asio::post(self->strand_, [self, loaded = std::move(loaded)]() mutable {
      self->OnLocalLoaded(std::move(loaded));
    });
  });
}

void Room::OnLocalLoaded(Result<std::optional<storage::StoredRoom>> loaded) {
  if (!loaded.ok()) {
    Fail("local storage unavailable: " + loaded.status().message());
    return;
  }
  if (!loaded->has_value()) {
    if (services_.snapshots == nullptr) {
      BecomeReady();
      return;
    }
    // Cold start: no local state, so the snapshot store's copy is the room.
    services_.snapshots->Load(
        id_, [self = shared_from_this()](Result<std::optional<snapshot::Bytes>> r) {
          boost::asio::post(self->strand_, [self, r = std::move(r)]() mutable {
            self->OnRemoteLoaded(std::move(r));
          });
        });
    return;
  }
  // Local state wins: it is at least as new as anything we saved to the store.
  storage::StoredRoom& stored = **loaded;
  doc_.OnUpdate(nullptr);  // loading is not news for anyone
  if (!stored.snapshot.empty()) {
    if (Status s = doc_.ApplyUpdate(stored.snapshot); !s.ok()) {
      spdlog::error("room={} local snapshot does not decode: {}", Quoted(id_), s.message());
    }
  }
  for (const auto& u : stored.updates) {
    if (Status s = doc_.ApplyUpdate(u); !s.ok())
      spdlog::error("room={} local log entry does not decode: {}", Quoted(id_), s.message());
  }
  doc_.OnUpdate([this](const std::vector<uint8_t>& update, const crdt::Transaction&) {
    OnUpdateApplied(update);
  });
  durable_store_seq_ = stored.last_seq;
  updates_since_compaction_ = stored.updates.size();
  document_bytes_ = stored.snapshot.size();
  for (const auto& u : stored.updates) document_bytes_ += u.size();
  if (stored.unsaved || stored.alarm_unix_ms) policy_.MarkUnsaved(SteadyClock::now());
  BecomeReady();
  ScheduleSaveCheck();
}

void Room::OnRemoteLoaded(Result<std::optional<snapshot::Bytes>> loaded) {
  if (!loaded.ok()) {
    // Never start empty in place of a snapshot that may exist: it would later overwrite it.
    Fail("snapshot store unavailable: " + loaded.status().message());
    return;
  }
  if (loaded->has_value()) {
    doc_.OnUpdate(nullptr);
    Status s = doc_.ApplyUpdate(**loaded);
    doc_.OnUpdate([this](const std::vector<uint8_t>& update, const crdt::Transaction&) {
      OnUpdateApplied(update);
    });
    if (!s.ok()) {
      Fail("snapshot from the store does not decode: " + s.message());
      return;
    }
    ++metrics_.cold_loads_from_store;
    document_bytes_ = (*loaded)->size();
    spdlog::info("room={} hydrated from the snapshot store ({} bytes)", Quoted(id_),
                 (*loaded)->size());
    // Keep it locally, so the next load is local.
    Compact(nullptr);
  }
  BecomeReady();
}

void Room::BecomeReady() {
  state_ = State::kReady;
  metrics_.room_load_micros_total +=
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - load_started_)
                                .count());
  std::deque<Waiting> waiting;
  waiting.swap(pending_);
  for (auto& w : waiting) {
    if (!w.frame) {
      DoJoin(std::move(w.conn));
    } else {
      DoReceive(w.conn, *w.frame);
    }
  }
}

void Room::Fail(const std::string& why) {
  state_ = State::kFailed;
  ++metrics_.room_load_failures;
  spdlog::error("room={} cannot be loaded: {}; clients get 1013", Quoted(id_), why);
  std::deque<Waiting> waiting;
  waiting.swap(pending_);
  for (auto& w : waiting) {
    if (!w.frame) {
      if (on_join_done_) on_join_done_(*this);
      metrics_.CountRefusal(protocol::kCloseTryAgain);
      w.conn->Close(protocol::kCloseTryAgain, "room unavailable, try again later");
    }
  }
  if (on_failed_) on_failed_();
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
    if (self->state_ == State::kLoading) {
      self->pending_.push_back({std::move(conn), nullptr});
      return;
    }
    self->DoJoin(std::move(conn));
  });
}

void Room::Leave(std::shared_ptr<Connection> conn) {
  boost::asio::post(strand_, [self = shared_from_this(), conn = std::move(conn)] {
    if (self->state_ == State::kLoading) {
      // Left before the room was ready: forget its queued work.
      std::erase_if(self->pending_, [&](const Waiting& w) {
        if (w.conn != conn) return false;
        if (!w.frame && self->on_join_done_) self->on_join_done_(*self);
        return true;
      });
      return;
    }
    self->DoLeave(conn);
  });
}

void Room::Receive(std::shared_ptr<Connection> conn, std::shared_ptr<std::vector<uint8_t>> frame) {
  boost::asio::post(strand_,
                    [self = shared_from_this(), conn = std::move(conn), frame = std::move(frame)] {
                      if (self->state_ == State::kLoading) {
                        self->pending_.push_back({conn, frame});
                        return;
                      }
                      self->DoReceive(conn, *frame);
                    });
}

void Room::CloseAll(uint16_t code, std::string reason) {
  boost::asio::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)] {
    self->close_joins_code_ = code;
    self->close_joins_reason_ = reason;
    for (auto& [ptr, state] : self->conns_) state.conn->Close(code, reason);
    for (auto& w : self->pending_) w.conn->Close(code, reason);
  });
}

void Room::DoJoin(std::shared_ptr<Connection> conn) {
  if (on_join_done_) on_join_done_(*this);
  if (state_ == State::kFailed) {
    metrics_.CountRefusal(protocol::kCloseTryAgain);
    conn->Close(protocol::kCloseTryAgain, "room unavailable, try again later");
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
  conns_.emplace(key, std::move(state));
  policy_.OnConnectionsChanged(conns_.size(), SteadyClock::now());
  ScheduleSaveCheck();
}

void Room::DoLeave(const std::shared_ptr<Connection>& conn) {
  auto it = conns_.find(conn.get());
  if (it == conns_.end()) return;
  std::vector<uint64_t> controlled = std::move(it->second.awareness_clients);
  conns_.erase(it);
  std::erase_if(outbox_, [&](const Outgoing& o) { return o.to == conn; });
  if (!controlled.empty()) {
    auto change = awareness_.Remove(controlled);
    if (!change.empty()) {
      cached_awareness_all_.reset();
      BroadcastAwareness(change.removed, nullptr);
    }
  }
  policy_.OnConnectionsChanged(conns_.size(), SteadyClock::now());
  ScheduleSaveCheck();
  if (conns_.empty() && on_empty_) on_empty_();
}

void Room::DoReceive(const std::shared_ptr<Connection>& conn, const std::vector<uint8_t>& frame) {
  if (conns_.find(conn.get()) == conns_.end()) return;  // left (or refused) meanwhile
  auto parsed = protocol::ParseMessage(frame);
  if (!parsed.ok()) {
    metrics_.CountRefusal(protocol::kCloseBadMessage);
    spdlog::info("room={} conn={} malformed message: {}", Quoted(id_), conn->id(),
                 parsed.status().message());
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
    case protocol::MessageType::kQueryAwareness: {
      count(kMsgQueryAwareness);
      // Every state, encoded once while awareness is unchanged; a connection whose previous
      // answer is still unsent gets no second one (it would hold a copy per query).
      ConnState& state = conns_[conn.get()];
      if (!state.awareness_in_flight.expired()) {
        ++metrics_.replies_coalesced;
        break;
      }
      if (!cached_awareness_all_) {
        cached_awareness_all_ = MakeFrame(protocol::EncodeAwareness(awareness_.EncodeAll()));
      }
      SharedFrame reply = ForOneRecipient(cached_awareness_all_);
      state.awareness_in_flight = reply;
      conn->Send(std::move(reply));
      break;
    }
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
  // Structs waiting for missing dependencies are not in the transaction's update; keep the
  // raw update in the log too so they survive a crash (only when it left some waiting).
  if (doc_.pending_additions() != pending_additions && services_.log != nullptr) {
    AppendToLog(std::vector<uint8_t>(update.begin(), update.end()), ++appended_local_);
    policy_.OnChange(SteadyClock::now());
    ScheduleSaveCheck();
  }
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
  if (services_.log != nullptr) {
    AppendToLog(update, ++appended_local_);
    policy_.OnChange(SteadyClock::now());
    ScheduleSaveCheck();
  }
  SendWhenDurable(MakeFrame(protocol::EncodeSyncUpdate(update)), nullptr, applying_from_);
}

void Room::HandleAwareness(const std::shared_ptr<Connection>& conn,
                           std::span<const uint8_t> update) {
  ConnState& state = conns_[conn.get()];
  protocol::Awareness::Limits limits;
  limits.max_entries = options_.max_awareness_states;
  limits.max_state_bytes = options_.max_awareness_bytes;
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
  ScheduleAwarenessCheck();
}

void Room::BroadcastAwareness(const std::vector<uint64_t>& clients, const Connection* except) {
  // Awareness is ephemeral: it never waits for the log.
  SendNow(Outgoing{0, MakeFrame(protocol::EncodeAwareness(awareness_.Encode(clients))), nullptr,
                   except});
}

void Room::SendNow(const Outgoing& out) {
  if (out.to) {
    if (conns_.count(out.to.get()) > 0) out.to->Send(out.frame);
    return;
  }
  for (auto& [ptr, state] : conns_) {
    if (ptr != out.except) state.conn->Send(out.frame);
  }
}

void Room::SendWhenDurable(SharedFrame frame, std::shared_ptr<Connection> to,
                           const Connection* except) {
  Outgoing out{appended_local_, std::move(frame), std::move(to), except};
  if (durable_local_ >= appended_local_ && outbox_.empty()) {
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

// ---------------------------------------------------------------------------------------------
// Durability

void Room::AppendToLog(std::vector<uint8_t> bytes, uint64_t local_seq) {
  std::vector<uint8_t> copy = bytes;
  services_.log->Append(id_, std::move(bytes),
                        [self = shared_from_this(), local_seq, copy = std::move(copy)](
                            Status s, uint64_t seq) mutable {
                          boost::asio::post(self->strand_, [self, s, local_seq, seq,
                                                            copy = std::move(copy)]() mutable {
                            self->OnAppended(s, local_seq, seq, std::move(copy));
                          });
                        });
}

void Room::OnAppended(Status status, uint64_t local_seq, uint64_t store_seq,
                      std::vector<uint8_t> bytes) {
  if (!status.ok()) {
    // Disk full or failing: nothing that depends on this update is sent until it is durable.
    ++metrics_.log_append_failures;
    spdlog::error("room={} cannot append to the local log ({}); retrying in {} ms", Quoted(id_),
                  status.message(), append_retry_.count());
    auto timer = std::make_shared<boost::asio::steady_timer>(strand_, append_retry_);
    append_retry_ = std::min(append_retry_ * 2, std::chrono::milliseconds(10'000));
    timer->async_wait([self = shared_from_this(), timer, local_seq,
                       bytes = std::move(bytes)](const boost::system::error_code&) mutable {
      self->AppendToLog(std::move(bytes), local_seq);
    });
    return;
  }
  append_retry_ = std::chrono::milliseconds(100);
  ++metrics_.log_appends;
  // Only a gap-free prefix is durable: after a failed append (being retried) later appends can
  // commit first, and frames that follow the failed one must wait for it.
  durable_ahead_.insert(local_seq);
  while (!durable_ahead_.empty() && *durable_ahead_.begin() == durable_local_ + 1) {
    durable_ahead_.erase(durable_ahead_.begin());
    ++durable_local_;
  }
  durable_store_seq_ = std::max(durable_store_seq_, store_seq);
  ++updates_since_compaction_;
  FlushOutbox();
  MaybeCompact();
}

void Room::FlushOutbox() {
  while (!outbox_.empty() && outbox_.front().required_seq <= durable_local_) {
    const Outgoing& out = outbox_.front();
    if (out.to) {
      auto it = conns_.find(out.to.get());
      if (it != conns_.end()) it->second.outbox_bytes -= out.frame->size();
    }
    SendNow(out);
    outbox_.pop_front();
  }
  // A shutdown waits until everything is saved (a failed save is retried until its timeout).
  if (outbox_.empty() && !after_save_.empty() && !policy_.save_in_flight() && !policy_.dirty()) {
    auto callbacks = std::move(after_save_);
    after_save_.clear();
    for (auto& f : callbacks) f();
  }
}

void Room::MaybeCompact() {
  if (services_.store == nullptr || updates_since_compaction_ < services_.compact_after_updates)
    return;
  Compact(nullptr);
}

void Room::Compact(std::function<void()> done) {
  if (services_.store == nullptr) {
    if (done) done();
    return;
  }
  updates_since_compaction_ = 0;
  // Everything durable so far is in this snapshot; later log entries are replayed on load
  // (applying an update twice is harmless).
  auto snapshot = std::make_shared<std::vector<uint8_t>>(doc_.EncodeStateAsUpdate());
  document_bytes_ = snapshot->size();
  const uint64_t through = durable_store_seq_;
  boost::asio::post(services_.io, [self = shared_from_this(), snapshot, through,
                                   done = std::move(done)]() mutable {
    Status s = self->services_.store->Compact(self->id_, *snapshot, through);
    if (s.ok()) {
      ++self->metrics_.compactions;
    } else {
      spdlog::warn("room={} compaction failed: {}", Quoted(self->id_), s.message());
    }
    if (done) boost::asio::post(self->strand_, std::move(done));
  });
}

void Room::CompactForUnload(std::function<void()> done) {
  boost::asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->Compact(std::move(done));
  });
}

// ---------------------------------------------------------------------------------------------
// Saving to the snapshot store

void Room::UpdateUnsavedGauge() {
  if (!policy_.dirty()) {
    unsaved_since_unix_ms_ = 0;
  } else if (unsaved_since_unix_ms_ == 0) {
    unsaved_since_unix_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  }
}

void Room::ScheduleSaveCheck() {
  UpdateUnsavedGauge();
  if (services_.snapshots == nullptr || state_ != State::kReady) return;
  auto next = policy_.NextWakeup();
  if (!next) return;
  if (save_timer_at_ && *save_timer_at_ <= *next) return;  // an earlier check is already set
  save_timer_at_ = *next;
  save_timer_.expires_at(*next);
  save_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed
    self->save_timer_at_.reset();
    self->OnSaveTimer();
  });
}

void Room::OnSaveTimer() {
  const auto now = SteadyClock::now();
  if (policy_.ShouldSave(now)) {
    StartSave();
  } else if (!policy_.dirty() && !policy_.save_in_flight()) {
    ++metrics_.saves_skipped_unchanged;
  }
  ScheduleSaveCheck();
}

void Room::ResumeSaves() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    self->policy_.MarkUnsaved(SteadyClock::now());
    self->ScheduleSaveCheck();
  });
}

void Room::StartSave() {
  const auto started = SteadyClock::now();
  auto bytes = doc_.EncodeStateAsUpdate();
  document_bytes_ = bytes.size();
  // The store's sequence number of the last append so far, once the ones in flight commit.
  const uint64_t through =
      durable_store_seq_ + (appended_local_ - durable_local_ - durable_ahead_.size());
  policy_.OnSaveStarted();
  if (bytes.size() <= 2) {  // an empty document: nothing to send
    policy_.OnSaveFinished(true, started);
    return;
  }
  const size_t size = bytes.size();
  services_.snapshots->Save(id_, std::move(bytes),
                            [self = shared_from_this(), through, size, started](Status s) {
                              boost::asio::post(self->strand_, [self, s, through, size, started] {
                                self->OnSaved(s, through, size, started);
                              });
                            });
}

void Room::OnSaved(Status status, uint64_t through_seq, size_t bytes,
                   SteadyClock::time_point started) {
  const auto now = SteadyClock::now();
  policy_.OnSaveFinished(status.ok(), now);
  metrics_.save_micros_total += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - started).count());
  if (status.ok()) {
    ++metrics_.saves_ok;
    metrics_.bytes_saved += bytes;
    spdlog::debug("room={} saved snapshot ({} bytes)", Quoted(id_), bytes);
    if (services_.store != nullptr && !policy_.dirty()) {
      boost::asio::post(services_.io, [self = shared_from_this(), through_seq] {
        Status s = self->services_.store->MarkSaved(self->id_, through_seq);
        if (!s.ok())
          spdlog::warn("room={} cannot record the save: {}", Quoted(self->id_), s.message());
      });
    }
  } else {
    ++metrics_.saves_failed;
    const auto retry =
        policy_.retry_at()
            ? std::chrono::duration_cast<std::chrono::milliseconds>(*policy_.retry_at() - now)
            : std::chrono::milliseconds(0);
    spdlog::warn("room={} snapshot save failed: {} (attempt {}, next retry in {} ms)", Quoted(id_),
                 status.message(), policy_.failed_attempts(), retry.count());
  }
  // Shutting down: what changed while this save was in flight is saved right away.
  if (status.ok() && !after_save_.empty() && policy_.dirty()) StartSave();
  ScheduleSaveCheck();
  FlushOutbox();
}

void Room::SaveForShutdown(std::function<void()> done) {
  boost::asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    if (self->services_.snapshots == nullptr || self->state_ != State::kReady) {
      done();
      return;
    }
    self->after_save_.push_back(std::move(done));
    if (self->policy_.dirty() && !self->policy_.save_in_flight()) self->StartSave();
    self->FlushOutbox();
  });
}

void Room::ScheduleAwarenessCheck() {
  // Clients renew their state every 15 s; states silent for awareness_timeout are dropped,
  // as y-protocols' own check does.
  if (awareness_timer_running_) return;
  awareness_timer_running_ = true;
  awareness_timer_.expires_after(options_.awareness_timeout / 3);
  awareness_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->awareness_timer_running_ = false;
    if (ec) return;
    auto change = self->awareness_.RemoveOutdated(protocol::Awareness::Clock::now(),
                                                  self->options_.awareness_timeout);
    if (!change.empty()) {
      for (auto& [ptr, state] : self->conns_) {
        for (uint64_t c : change.removed) std::erase(state.awareness_clients, c);
      }
      self->cached_awareness_all_.reset();
      self->BroadcastAwareness(change.removed, nullptr);
    }
    if (self->awareness_.size() > 0 || self->awareness_.known_clients() > 0)
      self->ScheduleAwarenessCheck();
  });
}

}  // namespace tandem::server
