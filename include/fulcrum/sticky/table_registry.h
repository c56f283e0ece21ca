#pragma once
// Control thread only. Keeps each pool's source-IP table across reloads: a pool whose name
// and sticky settings (mode, ttl, table_size) are unchanged gets the same table, so clients
// keep their backend through a SIGHUP.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fulcrum/config/config.h"
#include "fulcrum/sticky/source_ip_table.h"

namespace fulcrum::sticky {

class TableRegistry {
 public:
  // The pool's table (null unless sticky.mode is source_ip): the existing one when its
  // settings are unchanged, else a new empty one that replaces it.
  SourceIpTableSharedPtr get(const config::PoolConfig& pool);
  // Drops the tables of pools that are gone or no longer use source_ip stickiness.
  void retainOnly(const config::Config& config);
  // Drops expired entries from every table (steady ms); returns how many. Call it from a
  // control-thread timer or before a scrape, so fulcrum_sticky_entries does not count entries
  // of clients that went quiet (the data path only drops expired entries it meets).
  size_t expireAll(int64_t now_ms);
  // Every table by pool name (metrics: fulcrum_sticky_entries).
  std::vector<std::pair<std::string, SourceIpTableSharedPtr>> tables() const;
  size_t size() const { return tables_.size(); }

 private:
  std::map<std::string, SourceIpTableSharedPtr> tables_;
};

}  // namespace fulcrum::sticky
