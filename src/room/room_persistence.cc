#include "room/room_persistence.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <random>

#include "base/log_text.h"
#include "room/strand_check.h"

namespace tandem::room {

using namespace std::chrono_literals;

namespace {
// While a room's log stays down, its failed appends are logged this often.
constexpr auto kAppendFailureLogInterval = 10s;
}  // namespace

RoomPersistence::RoomPersistence(std::string room, Strand strand, PersistenceServices services,
                                 Metrics& metrics, Listener& listener)
    : room_(std::move(room)),
      strand_(std::move(strand)),
      services_(services),
      clock_(services.clock != nullptr ? *services.clock : SystemClock::Instance()),
      metrics_(metrics),
      listener_(listener),
      policy_(services.options.save_policy),
      save_timer_(clock_.MakeTimer(strand_)) {
  compact_after_ = JitteredCompactAfter();
}

RoomPersistence::~RoomPersistence() = default;

size_t RoomPersistence::JitteredCompactAfter() const {
  // Up to a quarter sooner, at random: rooms that started together at the same pace (a restart,
  // a class opening its documents at once) would otherwise all compact in the same moment, and a
  // burst of compactions holds up every room's appends.
  const size_t n = services_.options.compact_after_updates;
  thread_local std::minstd_rand random(std::random_device{}());
  return n - std::uniform_int_distribution<size_t>(0, n / 4)(random);
}

std::function<void(std::function<void()>)> RoomPersistence::OnStrand() {
  return [strand = strand_, owner = owner_.lock()](std::function<void()> fn) {
    boost::asio::post(strand, [owner, fn = std::move(fn)] { fn(); });
  };
}

// ---------------------------------------------------------------------------------------------
// Loading

void RoomPersistence::Load() {
  TANDEM_DCHECK_ON_STRAND(strand_);
  load_started_ = clock_.Now();
  if (services_.log == nullptr) {
    OnRead(std::optional<roomlog::LogContents>());
    return;
  }
  services_.log->Read(room_, [this, post = OnStrand()](auto read) {
    post([this, read = std::move(read)]() mutable { OnRead(std::move(read)); });
  });
}

void RoomPersistence::OnRead(Result<std::optional<roomlog::LogContents>> read) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (!read.ok()) {
    listener_.OnLoadFailed("local storage unavailable: " + read.status().message());
    return;
  }
  if (!read->has_value()) {
    if (services_.snapshots == nullptr) {
      (void)listener_.OnLoaded({}, 0);
      return;
    }
    // Cold start: no local state, so the snapshot store's copy is the room.
    services_.snapshots->Load(room_, [this, post = OnStrand()](auto loaded) {
      post([this, loaded = std::move(loaded)]() mutable { OnStoreLoaded(std::move(loaded)); });
    });
    return;
  }
  roomlog::LogContents& contents = **read;
  if (contents.base_in_store && services_.snapshots != nullptr) {
    // A shared log keeps only what follows the store's copy: the room is that copy plus it.
    services_.snapshots->Load(
        room_, [this, post = OnStrand(),
                tail = std::make_shared<roomlog::LogContents>(std::move(contents))](auto loaded) {
          post([this, loaded = std::move(loaded), tail]() mutable {
            OnStoreLoaded(std::move(loaded), std::move(*tail));
          });
        });
    return;
  }
  // Local state wins: it is at least as new as anything saved to the store.
  std::vector<Bytes> parts;
  parts.reserve(contents.updates.size() + 1);
  if (!contents.snapshot.empty()) parts.push_back(std::move(contents.snapshot));
  for (auto& u : contents.updates) parts.push_back(std::move(u));
  durable_log_seq_ = contents.last_seq;
  log_position_ = contents.position;
  log_seq_ = contents.last_seq;
  updates_since_compaction_ = contents.updates.size();
  if (contents.unsaved) policy_.MarkUnsaved(clock_.Now());
  (void)listener_.OnLoaded(parts, 0);
  metrics_.room_load_micros_total += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - load_started_).count());
  ScheduleSaveCheck();
}

void RoomPersistence::OnStoreLoaded(Result<std::optional<Bytes>> loaded,
                                    std::optional<roomlog::LogContents> tail) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (!loaded.ok()) {
    // Never start empty in place of a snapshot that may exist: it would later overwrite it.
    listener_.OnLoadFailed("snapshot store unavailable: " + loaded.status().message());
    return;
  }
  std::vector<Bytes> parts;
  const size_t size = loaded->has_value() ? (*loaded)->size() : 0;
  if (loaded->has_value()) parts.push_back(std::move(**loaded));
  const size_t from_store = parts.size();
  if (tail) {
    for (auto& u : tail->updates) parts.push_back(std::move(u));
    durable_log_seq_ = tail->last_seq;
    log_position_ = tail->position;
    log_seq_ = tail->last_seq;
    if (tail->unsaved && services_.cluster == nullptr) policy_.MarkUnsaved(clock_.Now());
  }
  if (parts.empty()) {
    (void)listener_.OnLoaded({}, 0);
    return;
  }
  if (Status s = listener_.OnLoaded(parts, from_store); !s.ok()) {
    listener_.OnLoadFailed("snapshot from the store does not decode: " + s.message());
    return;
  }
  ++metrics_.cold_loads_from_store;
  spdlog::info("room={} hydrated from the snapshot store ({} bytes)", Quoted(room_), size);
  metrics_.room_load_micros_total += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - load_started_).count());
  if (tail) {
    ScheduleSaveCheck();
    return;  // a shared log: nothing to keep locally
  }
  // Keep it locally, so that the next load is local.
  Compact(nullptr);
}

// ---------------------------------------------------------------------------------------------
// Appends

uint64_t RoomPersistence::Append(std::span<const uint8_t> update) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  const uint64_t seq = ++appended_;
  if (services_.log == nullptr) {
    durable_ = seq;
    return seq;
  }
  policy_.OnChange(clock_.Now());
  ScheduleSaveCheck();
  // With nothing of ours in flight the log may take it at once (no thread hop): it is durable
  // before this returns, so the room sends it on without waiting.
  if (durable_ + 1 == seq && !erasing_ && !erased_) {
    if (auto log_seq = services_.log->TryAppendNow(room_, update)) {
      durable_ = seq;
      OnDurableAppend(*log_seq);
      // The caller is inside the document's transaction: what reads the document runs after.
      if (updates_since_compaction_ >= compact_after_ || !after_save_.empty()) {
        boost::asio::post(strand_, [this, owner = owner_] {
          if (owner.lock()) {
            MaybeCompact();
            MaybeFinishShutdownSave();
          }
        });
      }
      return seq;
    }
  }
  // A log that needs an fsync may still commit it here and fsync at the end of this turn of the
  // thread's loop, once for every append committed in it, while none of ours waits in its queue
  // (that one would commit later: the order would not be kept).
  if (queued_appends_ == 0 && !erasing_ && !erased_ &&
      services_.log->TryAppendOnThisThread(room_, update, strand_.get_inner_executor(),
                                           AppendDone(Bytes(update.begin(), update.end()), seq,
                                                      /*queued=*/false))) {
    return seq;
  }
  DoAppend(Bytes(update.begin(), update.end()), seq);
  return seq;
}

void RoomPersistence::OnDurableAppend(uint64_t log_seq) {
  append_retry_ = 100ms;
  if (append_failures_ > 0) {
    spdlog::info("room={} appends to the room log work again (after {} failed)", Quoted(room_),
                 append_failures_);
    append_failures_ = 0;
  }
  ++metrics_.log_appends;
  durable_log_seq_ = std::max(durable_log_seq_, log_seq);
  ++updates_since_compaction_;
}

void RoomPersistence::DoAppend(Bytes update, uint64_t local_seq) {
  if (erased_) return;  // a retry of an append made before the room was erased
  Bytes copy = update;  // kept to retry with
  ++queued_appends_;
  services_.log->Append(room_, std::move(update),
                        AppendDone(std::move(copy), local_seq, /*queued=*/true));
}

roomlog::RoomLog::AppendCallback RoomPersistence::AppendDone(Bytes update, uint64_t local_seq,
                                                             bool queued) {
  return [this, post = OnStrand(), local_seq, queued, update = std::move(update)](
             const Status& s, uint64_t log_seq) mutable {
    post([this, s, local_seq, log_seq, queued, update = std::move(update)]() mutable {
      if (queued) --queued_appends_;
      OnAppended(s, local_seq, log_seq, std::move(update));
    });
  };
}

void RoomPersistence::OnAppended(const Status& status, uint64_t local_seq, uint64_t log_seq,
                                 Bytes update) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (!status.ok()) {
    // Disk full or failing: nothing that depends on this update is sent until it is durable.
    ++metrics_.log_append_failures;
    last_error_ = "log append: " + status.message();
    const Clock::TimePoint now = clock_.Now();
    if (++append_failures_ == 1 || now - append_failure_logged_ >= kAppendFailureLogInterval) {
      spdlog::error(
          "room={} cannot append to the room log ({}); retrying in {} ms ({} failed so far)",
          Quoted(room_), Quoted(status.message(), 256), append_retry_.count(), append_failures_);
      append_failure_logged_ = now;
    }
    auto timer = std::shared_ptr<Timer>(clock_.MakeTimer(strand_));
    // The retry holds the room weakly: a room that went meanwhile has nobody to send to.
    timer->ExpireAt(now + append_retry_,
                    [this, owner = owner_, timer, local_seq, update = std::move(update)]() mutable {
                      if (auto alive = owner.lock()) DoAppend(std::move(update), local_seq);
                    });
    // A shared log (Redis) is back within seconds of a restart, and its clients wait with 1013
    // meanwhile: retry it more often than a failing local disk.
    append_retry_ =
        std::min(append_retry_ * 2,
                 std::chrono::milliseconds(services_.cluster != nullptr ? 1'000 : 10'000));
    listener_.OnLogUnavailable(status.message());
    return;
  }
  // Only a gap-free prefix is durable: after a failed append (being retried) later appends can
  // commit first, and frames that follow the failed one must wait for it.
  durable_ahead_.insert(local_seq);
  while (!durable_ahead_.empty() && *durable_ahead_.begin() == durable_ + 1) {
    durable_ahead_.erase(durable_ahead_.begin());
    ++durable_;
  }
  OnDurableAppend(log_seq);
  listener_.OnDurable(durable_);
  MaybeCompact();
  MaybeFinishShutdownSave();
}

// ---------------------------------------------------------------------------------------------
// Compaction

void RoomPersistence::MaybeCompact() {
  if (services_.log == nullptr || updates_since_compaction_ < compact_after_) return;
  Compact(nullptr);
}

void RoomPersistence::Compact(std::function<void()> done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  // A shared log (cluster mode) is trimmed after saves, never folded.
  if (services_.log == nullptr || services_.cluster != nullptr || erasing_ || erased_) {
    if (done) done();
    return;
  }
  updates_since_compaction_ = 0;
  compact_after_ = JitteredCompactAfter();
  // Everything durable so far is in this snapshot; later updates in the log are replayed on
  // load (applying an update twice is harmless).
  Bytes snapshot = listener_.EncodeState();
  services_.log->Compact(
      room_, std::move(snapshot), durable_log_seq_,
      [this, post = OnStrand(), done = std::move(done)](const Status& s) mutable {
        post([this, s, done = std::move(done)] {
          if (s.ok()) {
            ++metrics_.compactions;
          } else {
            spdlog::warn("room={} compaction failed: {}", Quoted(room_), Quoted(s.message(), 256));
          }
          if (done) done();
        });
      });
}

void RoomPersistence::CompactForUnload(std::function<void()> done) {
  Compact(std::move(done));
}

// ---------------------------------------------------------------------------------------------
// Saving to the snapshot store

bool RoomPersistence::CanUnload() const {
  // In a cluster, what is durable is in the shared log and the owner saves it.
  if (services_.cluster != nullptr) return all_durable() && !cluster_save_in_flight_;
  return all_durable() && (services_.snapshots == nullptr || policy_.CanUnload());
}

void RoomPersistence::OnConnectionsChanged(size_t connections) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (services_.cluster != nullptr) {
    services_.cluster->ConnectionsChanged(room_, connections);
    return;
  }
  policy_.OnConnectionsChanged(connections, clock_.Now());
  ScheduleSaveCheck();
}

void RoomPersistence::UpdateUnsavedGauge() {
  if (!policy_.dirty()) {
    unsaved_since_unix_ms_ = 0;
  } else if (unsaved_since_unix_ms_ == 0) {
    unsaved_since_unix_ms_ = clock_.UnixMillis();
  }
}

void RoomPersistence::ScheduleSaveCheck() {
  UpdateUnsavedGauge();
  if (services_.snapshots == nullptr || services_.cluster != nullptr) return;
  auto next = policy_.NextWakeup();
  if (!next) return;
  if (save_timer_at_ && *save_timer_at_ <= *next) return;  // an earlier check is already set
  save_timer_at_ = *next;
  save_timer_->ExpireAt(*next, [this, owner = owner_] {
    auto alive = owner.lock();  // the timer belongs to this object: if the room went, so did it
    if (!alive) return;
    save_timer_at_.reset();
    OnSaveTimer();
  });
}

void RoomPersistence::OnSaveTimer() {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (erasing_ || erased_) return;
  if (policy_.ShouldSave(clock_.Now())) {
    StartSave();
  } else if (!policy_.dirty() && !policy_.save_in_flight()) {
    ++metrics_.saves_skipped_unchanged;
  }
  ScheduleSaveCheck();
}

void RoomPersistence::ResumeSaves() {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (services_.cluster != nullptr) return;  // the cluster's due set resumes saves
  policy_.MarkUnsaved(clock_.Now());
  ScheduleSaveCheck();
}

void RoomPersistence::StartSave() {
  const auto started = clock_.Now();
  Bytes bytes = listener_.EncodeState();
  // The log's sequence number of the last append so far, once the ones in flight commit.
  const uint64_t through = durable_log_seq_ + (appended_ - durable_ - durable_ahead_.size());
  policy_.OnSaveStarted();
  if (bytes.size() <= 2) {  // an empty document: nothing to send
    policy_.OnSaveFinished(true, started);
    auto waiting = std::move(save_now_);
    save_now_.clear();
    for (auto& f : waiting) f(Status::Ok());
    return;
  }
  const size_t size = bytes.size();
  services_.snapshots->Save(
      room_, std::move(bytes), [this, post = OnStrand(), through, size, started](const Status& s) {
        post([this, s, through, size, started] { OnSaved(s, through, size, started); });
      });
}

void RoomPersistence::RecordSave(const Status& status, size_t bytes, Clock::TimePoint started) {
  const auto now = clock_.Now();
  policy_.OnSaveFinished(status.ok(), now);
  last_save_unix_ms_ = clock_.UnixMillis();
  last_save_ok_ = status.ok();
  metrics_.save_micros_total += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - started).count());
  if (services_.events != nullptr) {
    if (status.ok()) {
      services_.events->OnSaved(room_, bytes);
    } else {
      services_.events->OnSaveFailed(room_, status.message());
    }
  }
  if (status.ok()) {
    ++metrics_.saves_ok;
    metrics_.bytes_saved += bytes;
    spdlog::debug("room={} saved snapshot ({} bytes)", Quoted(room_), bytes);
  } else {
    ++metrics_.saves_failed;
    last_error_ = "snapshot save: " + status.message();
    const auto retry =
        policy_.retry_at()
            ? std::chrono::duration_cast<std::chrono::milliseconds>(*policy_.retry_at() - now)
            : std::chrono::milliseconds(0);
    spdlog::warn("room={} snapshot save failed: {} (attempt {}, next retry in {} ms)",
                 Quoted(room_), Quoted(status.message(), 256), policy_.failed_attempts(),
                 retry.count());
  }
}

void RoomPersistence::OnSaved(const Status& status, uint64_t through_seq, size_t bytes,
                              Clock::TimePoint started) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  RecordSave(status, bytes, started);
  if (status.ok()) {
    if (services_.log != nullptr && !policy_.dirty()) {
      services_.log->MarkSaved(room_, through_seq, [room = room_](const Status& s) {
        if (!s.ok()) {
          spdlog::warn("room={} cannot record the save: {}", Quoted(room), Quoted(s.message()));
        }
      });
    }
  }
  // Shutting down, or asked to save now: what changed while this save was in flight is saved
  // right away.
  if (status.ok() && (!after_save_.empty() || !save_now_.empty()) && policy_.dirty()) {
    StartSave();
  } else if (!save_now_.empty()) {
    auto waiting = std::move(save_now_);
    save_now_.clear();
    for (auto& f : waiting) f(status);
  }
  ScheduleSaveCheck();
  MaybeFinishShutdownSave();
  if (erase_after_save_) {
    auto erase = std::move(erase_after_save_);
    erase_after_save_ = nullptr;
    DoErase(std::move(erase));
  }
}

void RoomPersistence::SaveNow(std::function<void(Status)> done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (services_.snapshots == nullptr) {
    done(Status(StatusCode::kFailedPrecondition, "no snapshot store"));
    return;
  }
  if (erasing_ || erased_) {
    done(Status(StatusCode::kFailedPrecondition, "the room is being deleted"));
    return;
  }
  if (services_.cluster != nullptr) {
    SaveCovering(listener_.CoveredLogSeq(), std::move(done));
    return;
  }
  if (!policy_.dirty() && !policy_.save_in_flight()) {
    done(Status::Ok());
    return;
  }
  save_now_.push_back(std::move(done));
  if (!policy_.save_in_flight()) StartSave();
}

void RoomPersistence::SaveForShutdown(std::function<void()> done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (services_.snapshots == nullptr) {
    done();
    return;
  }
  if (erasing_ || erased_) {
    done();
    return;
  }
  after_save_.push_back(std::move(done));
  // In a cluster the shared log keeps what is unsaved and the owner (another node after this
  // one leaves) saves it: only the appends in flight are waited for.
  if (services_.cluster == nullptr && policy_.dirty() && !policy_.save_in_flight()) StartSave();
  MaybeFinishShutdownSave();
}

void RoomPersistence::SaveCovering(uint64_t through_seq, std::function<void(Status)> done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (services_.snapshots == nullptr || services_.log == nullptr) {
    done(Status(StatusCode::kFailedPrecondition, "no snapshot store"));
    return;
  }
  if (erasing_ || erased_) {
    done(Status(StatusCode::kFailedPrecondition, "the room is being deleted"));
    return;
  }
  if (cluster_save_in_flight_) {
    done(UnavailableError("a save of this room is in flight"));
    return;
  }
  cluster_save_in_flight_ = true;
  const auto started = clock_.Now();
  Bytes bytes = listener_.EncodeState();
  const size_t size = bytes.size();
  policy_.OnSaveStarted();
  services_.snapshots->Save(
      room_, std::move(bytes),
      [this, post = OnStrand(), through_seq, size, started,
       done = std::move(done)](const Status& s) mutable {
        post([this, post, s, through_seq, size, started, done = std::move(done)]() mutable {
          RecordSave(s, size, started);
          if (erase_after_save_) {  // a DELETE waited for this save
            cluster_save_in_flight_ = false;
            done(s.ok() ? Status(StatusCode::kFailedPrecondition, "the room is being deleted") : s);
            auto erase = std::move(erase_after_save_);
            erase_after_save_ = nullptr;
            DoErase(std::move(erase));
            return;
          }
          if (!s.ok() || erasing_ || erased_) {
            cluster_save_in_flight_ = false;
            done(s);
            return;
          }
          services_.log->MarkSaved(room_, through_seq,
                                   [this, post, done = std::move(done)](const Status& m) mutable {
                                     post([this, m, done = std::move(done)] {
                                       cluster_save_in_flight_ = false;
                                       if (!m.ok()) {
                                         spdlog::warn("room={} cannot record the save: {}",
                                                      Quoted(room_), Quoted(m.message(), 256));
                                       }
                                       done(m);
                                     });
                                   });
        });
      });
}

void RoomPersistence::MaybeFinishShutdownSave() {
  // A shutdown waits until everything is durable and saved (a failed save is retried until its
  // timeout).
  if (after_save_.empty() || !all_durable()) return;
  if (services_.cluster == nullptr && (policy_.save_in_flight() || policy_.dirty())) return;
  auto callbacks = std::move(after_save_);
  after_save_.clear();
  for (auto& f : callbacks) f();
}

// ---------------------------------------------------------------------------------------------
// Erasing

void RoomPersistence::Erase(EraseDone done) {
  TANDEM_DCHECK_ON_STRAND(strand_);
  if (erasing_ || erased_) {
    done(Status(StatusCode::kFailedPrecondition, "the room is already being deleted"), 0);
    return;
  }
  erasing_ = true;
  save_timer_->Cancel();
  save_timer_at_.reset();
  // A save in flight could land in the store after the delete and bring the room back.
  if (policy_.save_in_flight()) {
    erase_after_save_ = std::move(done);
    return;
  }
  DoErase(std::move(done));
}

void RoomPersistence::DoErase(EraseDone done) {
  auto post = OnStrand();
  auto fail = [this](EraseDone& answer, Status s) {
    erasing_ = false;
    spdlog::error("room={} cannot be deleted: {}", Quoted(room_), Quoted(s.message(), 256));
    ScheduleSaveCheck();
    answer(std::move(s), 0);
  };
  auto erase_log = [this, post, fail](EraseDone answer) {
    if (services_.log == nullptr) {
      erased_ = true;
      answer(Status::Ok(), 0);
      return;
    }
    services_.log->Erase(room_, [this, post, fail, done = std::move(answer)](
                                    const Status& s, size_t elsewhere) mutable {
      post([this, s, elsewhere, fail, done = std::move(done)]() mutable {
        if (!s.ok()) {
          // The store's copy is gone already: say so, and keep the document (it is saved
          // again).
          fail(done, s.WithContext("the snapshot store's versions are deleted, the local log "
                                   "could not be"));
          policy_.MarkUnsaved(clock_.Now());
          ScheduleSaveCheck();
          return;
        }
        erased_ = true;
        erasing_ = false;
        done(Status::Ok(), elsewhere);
      });
    });
  };
  if (services_.snapshots == nullptr) {
    erase_log(std::move(done));
    return;
  }
  services_.snapshots->Delete(
      room_, [post, fail, erase_log, done = std::move(done)](const Status& s) mutable {
        post([s, fail, erase_log, done = std::move(done)]() mutable {
          if (!s.ok()) {
            fail(done, s);
            return;
          }
          erase_log(std::move(done));
        });
      });
}

}  // namespace tandem::room
