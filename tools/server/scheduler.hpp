// Continuous batching. HTTP handler threads submit jobs and read their results from a per-job channel; one
// scheduler thread owns the Model and runs the steps: admit waiting jobs into free sequence slots, run ONE
// batched forward pass over every active sequence (a newly admitted one contributes its whole prompt, the
// others their last token), sample, stream text out, retire finished or cancelled jobs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bitnet/bitnet.hpp"
#include "metrics.hpp"

namespace bitnet::server {

// What a job reports, in order: text deltas, then one final event (done = true).
struct JobEvent {
  std::string text;
  bool done = false;
  std::string finish_reason;   // "stop" (EOS or a stop sequence), "length" (max_tokens or the context)
  std::string error;           // set when generation failed (the final event)
  bool shutting_down = false;  // with error: failed because the server is stopping (503, not 500)
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

// The meeting point of one job's handler thread (reader) and the scheduler (writer).
class JobChannel {
 public:
  void push(JobEvent e);
  // Waits up to `timeout` for events; moves all that are there into `out`. False on timeout with none.
  bool pop_all(std::deque<JobEvent>& out, std::chrono::milliseconds timeout);
  // The reader is gone (client disconnected): the scheduler drops the job at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  std::atomic<bool> cancelled_{false};
};

struct Job {
  std::vector<int32_t> prompt;
  GenerationConfig cfg;  // max_tokens and sampling
  std::vector<std::string> stop;
  bool stream = true;  // false: the text comes in the final event only (the reader is woken once)
  std::shared_ptr<JobChannel> channel = std::make_shared<JobChannel>();
};

class Scheduler {
 public:
  // parallel: sequence slots (each with a KV cache of the model's context, allocated up front);
  // max_queue: jobs that may wait for a slot.
  static Result<std::unique_ptr<Scheduler>> create(Model& model, int parallel, int max_queue, Metrics& metrics);
  ~Scheduler();  // stops: queued and running jobs get a final error event

  enum class Submit { kAccepted, kQueueFull, kStopping };
  Submit submit(std::unique_ptr<Job> job);
  void stop();
  // While held, queued jobs are not admitted (running ones go on): lets tests line jobs up deterministically.
  void hold(bool on);

 private:
  struct Active;
  Scheduler(Model& model, int max_queue, Metrics& metrics);
  void loop();
  void admit(std::vector<std::unique_ptr<Job>>& incoming);
  void step();
  void finish(Active& a, const std::string& reason);

  Model& model_;
  Metrics& metrics_;
  const size_t max_queue_;
  std::vector<std::unique_ptr<Sequence>> free_slots_;
  std::vector<Active> active_;  // only the scheduler thread touches these two
  std::vector<BatchItem> items_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopping_ = false;
  bool held_ = false;
  size_t idle_slots_ = 0;  // slots the next step will have free (the queue bound does not count jobs they take)
  std::thread thread_;
};

}  // namespace bitnet::server
