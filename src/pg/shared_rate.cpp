// shared_rate.cpp — the shared-memory table of per-account RateStates behind rate_limiter_for().
// Must never, in SharedRateLimiter's methods (sender threads), do more than spinlock + arithmetic: no elog, palloc.
// Called by worker.cpp's shmem hooks and by credentials.cpp.
#include "shared_rate.hpp"

extern "C" {
#include "storage/shmem.h"
#include "storage/spin.h"
}

#include <cstring>
#include <new>

namespace pg2d1 {

namespace {

constexpr int kSlots = 16;
constexpr size_t kAccountIdBytes = 64; // NUL-terminated: ids are compared by their first 63 bytes

struct RateSlot {
	bool used;
	char account_id[kAccountIdBytes];
	RateState state;
};

// One spinlock for the whole table: every critical section is a few comparisons and additions.
struct RateTable {
	slock_t lock;
	RateSlot slots[kSlots];
};

// Set by shared_rate_shmem_init in the postmaster and inherited by every backend it forks.
RateTable *table = nullptr;

// Holds nothing but a pointer into shared memory, which stays mapped for the life of the process. A spinlock is
// held for nanoseconds; s_lock() only sleeps (and, after minutes, PANICs) if a process died holding it, which the
// postmaster treats as a crash anyway.
class SharedRateLimiter final : public RateLimiter {
  public:
	SharedRateLimiter(RateTable *t, int slot) : table_(t), slot_(slot) {}
	int64_t reserve(int64_t now_ns, double rps) override {
		SpinLockAcquire(&table_->lock);
		const int64_t at = reserve_slot(table_->slots[slot_].state, now_ns, rps);
		SpinLockRelease(&table_->lock);
		return at;
	}
	void pause_until(int64_t until_ns) override {
		SpinLockAcquire(&table_->lock);
		pause_state(table_->slots[slot_].state, until_ns);
		SpinLockRelease(&table_->lock);
	}

  private:
	RateTable *const table_;
	const int slot_;
};

} // namespace

Size shared_rate_shmem_size() {
	return MAXALIGN(sizeof(RateTable));
}

void shared_rate_shmem_init() {
	bool found = false;
	auto *t = static_cast<RateTable *>(ShmemInitStruct("pg2d1 rate limits", sizeof(RateTable), &found));
	if (!found) {
		new (t) RateTable(); // value-initialised: every slot unused, every time 0
		SpinLockInit(&t->lock);
	}
	table = t;
}

std::shared_ptr<RateLimiter> rate_limiter_for(const std::string &account_id) {
	if (table == nullptr)
		return process_rate_limiter();
	char key[kAccountIdBytes] = {};
	std::strncpy(key, account_id.c_str(), kAccountIdBytes - 1);
	int slot = kSlots - 1; // the table is full: share the last slot
	SpinLockAcquire(&table->lock);
	for (int i = 0; i < kSlots; ++i) {
		RateSlot &s = table->slots[i];
		if (!s.used) {
			s.used = true;
			std::memcpy(s.account_id, key, kAccountIdBytes);
			slot = i;
			break;
		}
		if (std::memcmp(s.account_id, key, kAccountIdBytes) == 0) {
			slot = i;
			break;
		}
	}
	SpinLockRelease(&table->lock);
	return std::make_shared<SharedRateLimiter>(table, slot);
}

} // namespace pg2d1
