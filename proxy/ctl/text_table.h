// A plain-text table for bpfproxyctl's output: a header row and rows of
// cells, each column as wide as its widest cell, two spaces apart. The last
// column is not padded, so lines carry no trailing blanks.
#ifndef BPFPROXY_PROXY_CTL_TEXT_TABLE_H_
#define BPFPROXY_PROXY_CTL_TEXT_TABLE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace bpfproxy::ctl {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : rows_{std::move(header)} {}

  // Numbers read best right-aligned.
  TextTable& AlignRight(size_t column) {
    right_.insert(column);
    return *this;
  }
  // A row with fewer cells than the header is padded with empty cells.
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  size_t rows() const { return rows_.size() - 1; }

  // Every line prefixed with |indent|, each ending in a newline.
  std::string Render(const std::string& indent = "") const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header.
  absl::flat_hash_set<size_t> right_;
};

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_TEXT_TABLE_H_
