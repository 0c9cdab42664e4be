#include "proxy/ctl/text_table.h"

#include <algorithm>

namespace bpfproxy::ctl {

std::string TextTable::Render(const std::string& indent) const {
  const size_t columns = rows_[0].size();
  std::vector<size_t> width(columns, 0);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < columns && c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line = indent;
    for (size_t c = 0; c < columns; ++c) {
      const std::string& cell = c < row.size() ? row[c] : "";
      const std::string pad(width[c] - cell.size(), ' ');
      if (c > 0) line += "  ";
      if (right_.contains(c)) {
        line += pad + cell;
      } else {
        line += cell;
        if (c + 1 < columns) line += pad;
      }
    }
    while (line.size() > indent.size() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace bpfproxy::ctl
