# PRAGMA statements, reads and writes.
# Expected: never executed (the authorizer allows no PRAGMA); settings of the guarded connection unchanged.
PRAGMA table_info(employees)
-- ----
PRAGMA database_list
-- ----
PRAGMA schema_version
-- ----
PRAGMA user_version
-- ----
PRAGMA integrity_check
-- ----
PRAGMA quick_check
-- ----
PRAGMA compile_options
-- ----
PRAGMA function_list
-- ----
PRAGMA index_list(employees)
-- ----
PRAGMA foreign_key_list(employees)
-- ----
PRAGMA page_count
-- ----
PRAGMA journal_mode
-- ----
PRAGMA journal_mode = WAL
-- ----
PRAGMA journal_mode = DELETE
-- ----
PRAGMA user_version = 7
-- ----
PRAGMA schema_version = 99
-- ----
PRAGMA writable_schema = ON
-- ----
PRAGMA query_only = OFF
-- ----
PRAGMA query_only = 0
-- ----
PRAGMA foreign_keys = ON
-- ----
PRAGMA cache_size = -2000000
-- ----
PRAGMA mmap_size = 1073741824
-- ----
PRAGMA locking_mode = EXCLUSIVE
-- ----
PRAGMA wal_checkpoint(TRUNCATE)
-- ----
PRAGMA temp_store = MEMORY
-- ----
PRAGMA temp_store_directory = '/tmp'
-- ----
PRAGMA synchronous = OFF
-- ----
PRAGMA auto_vacuum = FULL
-- ----
PRAGMA incremental_vacuum
-- ----
PRAGMA optimize
-- ----
PRAGMA shrink_memory
-- ----
PRAGMA trusted_schema = ON
-- ----
PRAGMA main.application_id = 5
-- ----
PRAGMA soft_heap_limit = 1
-- ----
PRAGMA hard_heap_limit = 1
-- ----
PRAGMA threads = 8
-- ----
PRAGMA max_page_count = 1
-- ----
PRAGMA recursive_triggers = ON
-- ----
PRAGMA case_sensitive_like = ON
-- ----
PRAGMA defer_foreign_keys = ON
