#include "tests/kernel/packet_checksum.h"

namespace bpfproxy::packet {

uint64_t SumWords(absl::Span<const uint8_t> bytes, uint64_t sum) {
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += static_cast<uint64_t>(bytes[i]) << 8 | bytes[i + 1];
  if (i < bytes.size()) sum += static_cast<uint64_t>(bytes[i]) << 8;
  return sum;
}

uint16_t Checksum(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

uint64_t PseudoHeaderSum(const IpAddress& src, const IpAddress& dst, uint8_t proto, uint32_t l4_length) {
  // IPv4: src, dst, zero, proto, 16-bit length. IPv6: src, dst, 32-bit
  // length, three zero bytes, next header. Both sum to the same words
  // apart from the addresses' widths.
  size_t skip = src.is_v4() ? 12 : 0;
  absl::Span<const uint8_t> s(src.bytes().data() + skip, 16 - skip);
  absl::Span<const uint8_t> d(dst.bytes().data() + skip, 16 - skip);
  uint64_t sum = SumWords(d, SumWords(s));
  return sum + proto + (l4_length >> 16) + (l4_length & 0xffff);
}

}  // namespace bpfproxy::packet
