// SPDX-License-Identifier: GPL-2.0
// A C++ function for tests/unit/test_symbolize.c: its symbol is mangled
// (_ZN2mt6Widget4growEm) and the report must show mt::Widget::grow.
// Built with g++ -fno-exceptions -fno-rtti, so linking needs no libstdc++;
// the test takes the address by the mangled name.
#include <stddef.h>

namespace mt {
struct Widget {
	size_t size;
	__attribute__((noinline)) size_t grow(size_t by);
};

size_t Widget::grow(size_t by)
{
	size += by * 3 + 1;
	return size;
}
} // namespace mt
