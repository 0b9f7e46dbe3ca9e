// A thread that runs queued jobs in order: the API's completion and operations threads.
// Thread-safety: Post from any thread. The destructor runs what is queued, then joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace waybill::server::api {

class WorkQueue {
 public:
  WorkQueue() : thread_([this] { Loop(); }) {}
  ~WorkQueue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Jobs queued and not yet finished.
  std::size_t pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size() + (busy_ ? 1 : 0);
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
      lock.unlock();
      job();
      job = nullptr;  // release captures outside the lock
      lock.lock();
      busy_ = false;
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  bool busy_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace waybill::server::api
