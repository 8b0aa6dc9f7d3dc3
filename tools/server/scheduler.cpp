// The scheduler thread: one batched forward pass per step over every active sequence. A new sequence's prompt
// is prefilled in the same pass as the others' next tokens (llama.cpp's server does the same): it costs the
// running streams one longer step instead of a separate prefill step, and weights are still read once.
#include "scheduler.hpp"

#include <algorithm>

#include "stop_text.hpp"

namespace bitnet::server {

void JobChannel::push(JobEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_one();
}

bool JobChannel::pop_all(std::deque<JobEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return true;
}

struct Scheduler::Active {
  std::unique_ptr<Job> job;
  std::unique_ptr<Sequence> seq;
  StopText stop;
  std::vector<int32_t> pending;  // what the next pass feeds: the prompt first, then the last sampled token
  int completion_tokens = 0;
  std::string text;  // a non-streamed job's text so far
  bool prefilled = false;
  bool done = false;
};

Result<std::unique_ptr<Scheduler>> Scheduler::create(Model& model, int parallel, int max_queue, Metrics& metrics) {
  if (parallel < 1) return invalid_argument("--parallel must be at least 1");
  if (max_queue < 0) return invalid_argument("the queue bound must be >= 0");
  std::unique_ptr<Scheduler> s(new Scheduler(model, max_queue, metrics));
  for (int i = 0; i < parallel; ++i) {
    auto seq = model.new_sequence();
    if (!seq.ok()) return seq.status().with_context("allocating sequence slot " + std::to_string(i));
    s->free_slots_.push_back(std::move(seq).value());
  }
  s->idle_slots_ = s->free_slots_.size();
  s->thread_ = std::thread([p = s.get()] { p->loop(); });
  return s;
}

Scheduler::Scheduler(Model& model, int max_queue, Metrics& metrics)
    : model_(model), metrics_(metrics), max_queue_(static_cast<size_t>(max_queue)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::hold(bool on) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = on;
  }
  cv_.notify_all();
}

Scheduler::Submit Scheduler::submit(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Submit::kStopping;
    // Jobs a free slot will take at the next step do not count against the queue bound.
    if (queue_.size() >= max_queue_ + idle_slots_) return Submit::kQueueFull;
    queue_.push_back(std::move(job));
    metrics_.queue_depth = static_cast<int64_t>(queue_.size());
  }
  cv_.notify_one();
  return Submit::kAccepted;
}

void Scheduler::loop() {
  for (;;) {
    std::vector<std::unique_ptr<Job>> incoming;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || (!queue_.empty() && !held_) || !active_.empty(); });
      if (stopping_) break;
      while (!held_ && !queue_.empty() && incoming.size() < free_slots_.size()) {
        incoming.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      idle_slots_ = free_slots_.size() - incoming.size();
      metrics_.queue_depth = static_cast<int64_t>(queue_.size());
    }
    admit(incoming);
    if (!active_.empty()) step();
    std::lock_guard<std::mutex> lock(mu_);
    idle_slots_ = free_slots_.size();
  }
  // Stopping: whoever is still waiting learns why.
  JobEvent bye;
  bye.done = true;
  bye.error = "the server is shutting down";
  bye.shutting_down = true;
  for (Active& a : active_) a.job->channel->push(bye);
  active_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& j : queue_) j->channel->push(bye);
  queue_.clear();
  metrics_.active = 0;
  metrics_.queue_depth = 0;
}

void Scheduler::admit(std::vector<std::unique_ptr<Job>>& incoming) {
  for (auto& job : incoming) {
    if (job->channel->cancelled()) {
      ++metrics_.requests_cancelled;
      continue;
    }
    Active a{std::move(job), std::move(free_slots_.back()), StopText({}), {}, 0, {}, false, false};
    free_slots_.pop_back();
    a.stop = StopText(a.job->stop);
    a.seq->reset(a.job->cfg, a.job->prompt);
    a.pending = a.job->prompt;
    active_.push_back(std::move(a));
  }
  metrics_.active = static_cast<int64_t>(active_.size());
}

void Scheduler::finish(Active& a, const std::string& reason) {
  JobEvent tail;
  if (reason != "stop_sequence") {
    bool stopped = false;
    tail.text = a.stop.push(a.seq->flush_text(), stopped);
    if (!stopped) tail.text += a.stop.flush();
    if (!tail.text.empty() && a.job->stream) a.job->channel->push(std::move(tail));
    if (!a.job->stream) a.text += tail.text;
  }
  JobEvent end;
  end.text = std::move(a.text);
  end.done = true;
  end.finish_reason = reason == "stop_sequence" ? "stop" : reason;
  end.prompt_tokens = static_cast<int>(a.job->prompt.size());
  end.completion_tokens = a.completion_tokens;
  ++metrics_.requests_ok;  // counted before the client can see its answer (and then read /metrics)
  a.job->channel->push(std::move(end));
  a.done = true;
}

void Scheduler::step() {
  // A job whose client went away leaves now; its slot (and KV cache) is free for the next one.
  for (Active& a : active_)
    if (a.job->channel->cancelled()) {
      ++metrics_.requests_cancelled;
      a.done = true;
    }
  auto retire = [&] {
    for (Active& a : active_)
      if (a.done) free_slots_.push_back(std::move(a.seq));
    active_.erase(std::remove_if(active_.begin(), active_.end(), [](const Active& a) { return a.done; }),
                  active_.end());
    metrics_.active = static_cast<int64_t>(active_.size());
  };
  retire();
  if (active_.empty()) return;

  items_.clear();
  uint64_t n_tokens = 0;
  for (Active& a : active_) {
    items_.push_back({a.seq.get(), a.pending});
    n_tokens += a.pending.size();
  }
  auto logits = model_.decode_batch(items_);
  if (!logits.ok()) {
    // Not caused by any one request's content (those were checked): fail this step's jobs, keep serving.
    for (Active& a : active_) {
      JobEvent e;
      e.done = true;
      e.error = "generation failed: " + logits.status().to_string();
      a.job->channel->push(std::move(e));
      a.done = true;
    }
    retire();
    return;
  }
  ++metrics_.decode_steps;
  metrics_.batch_tokens += n_tokens;
  const size_t n_vocab = static_cast<size_t>(model_.info().n_vocab);
  for (size_t i = 0; i < active_.size(); ++i) {
    Active& a = active_[i];
    if (!a.prefilled) {
      metrics_.prompt_tokens += a.pending.size();
      a.prefilled = true;
    }
    const int32_t id = a.seq->sample(logits->data() + i * n_vocab);
    if (a.job->cfg.stop_at_eos && a.seq->is_end_of_generation(id)) {
      finish(a, "stop");
      continue;
    }
    ++a.completion_tokens;
    metrics_.record_generated(1);  // before any event of this token reaches the client
    bool stopped = false;
    JobEvent e;
    e.text = a.stop.push(a.seq->push_text(id), stopped);
    if (!a.job->stream)
      a.text += e.text;
    else if (!e.text.empty())
      a.job->channel->push(std::move(e));
    if (stopped) {
      finish(a, "stop_sequence");
    } else if (a.completion_tokens >= a.job->cfg.max_tokens || a.seq->n_past() >= a.seq->n_ctx()) {
      finish(a, "length");
    } else {
      a.pending.assign(1, id);
    }
  }
  retire();
}

}  // namespace bitnet::server
