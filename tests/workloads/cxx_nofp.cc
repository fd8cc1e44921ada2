// SPDX-License-Identifier: GPL-2.0
/* A C++ call site (-O2, no frame pointers): memtrace::test::Grower::grow touches 8 MiB. */
#include <cstring>
#include <sys/mman.h>

namespace memtrace {
namespace test {
struct Grower {
	__attribute__((noinline)) static void grow(unsigned long n)
	{
		void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return;
		madvise(p, n, MADV_NOHUGEPAGE);
		std::memset(p, 1, n);
		__asm__ volatile("" ::: "memory");
	}
};
} // namespace test
} // namespace memtrace

int main()
{
	memtrace::test::Grower::grow(8UL << 20);
	return 0;
}
