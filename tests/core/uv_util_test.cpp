// The lazy-deadline helpers shared by the session, pooled-connection and tunnel timers.

#include "fulcrum/core/uv_util.h"

#include <gtest/gtest.h>
#include <uv.h>

namespace fulcrum::core {
namespace {

struct Deadline {
  uv_timer_t timer{};
  uint64_t since = 0;
  uint64_t timeout_ms = 60;
  int fired = 0;
  uint64_t passed_at = 0;  // loop time when deadlinePassed said so

  static void onTimer(uv_timer_t* t) {
    auto* d = static_cast<Deadline*>(t->data);
    ++d->fired;
    if (deadlinePassed(t, &Deadline::onTimer, d->since, d->timeout_ms))
      d->passed_at = uv_now(t->loop);
  }
};

class UvUtil : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    uv_timer_init(&loop_, &d_.timer);
    d_.timer.data = &d_;
  }
  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&d_.timer), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  uv_loop_t loop_{};
  Deadline d_;
};

TEST_F(UvUtil, ArmNoLaterThanKeepsAnEarlierDeadline) {
  armNoLaterThan(&d_.timer, &Deadline::onTimer, 50);
  EXPECT_LE(uv_timer_get_due_in(&d_.timer), 50u);
  armNoLaterThan(&d_.timer, &Deadline::onTimer, 1000);  // later: left alone
  EXPECT_LE(uv_timer_get_due_in(&d_.timer), 50u);
  armNoLaterThan(&d_.timer, &Deadline::onTimer, 10);  // sooner: moved
  EXPECT_LE(uv_timer_get_due_in(&d_.timer), 10u);
}

TEST_F(UvUtil, AnEarlyTimerReArmsForWhatIsLeft) {
  // The owner's start time moved on after the timer was armed (activity): the first firing
  // is early and re-arms; the deadline passes timeout_ms after the new start, not before.
  uv_update_time(&loop_);
  d_.since = uv_now(&loop_) + 20;  // activity 20 ms after the timer was armed
  armNoLaterThan(&d_.timer, &Deadline::onTimer, d_.timeout_ms);
  uv_run(&loop_, UV_RUN_DEFAULT);  // returns once the timer is no longer re-armed
  EXPECT_EQ(d_.fired, 2);
  EXPECT_GE(d_.passed_at, d_.since + d_.timeout_ms);
}

}  // namespace
}  // namespace fulcrum::core
