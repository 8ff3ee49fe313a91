# load_extension and file functions; transaction control.
# Expected: never executed (not_authorized, or multiple statements).
SELECT load_extension('/tmp/evil.so')
-- ----
SELECT load_extension('libevil')
-- ----
SELECT load_extension('/tmp/evil.so', 'sqlite3_evil_init')
-- ----
SELECT LOAD_EXTENSION('x')
-- ----
SELECT name FROM employees WHERE load_extension('x') IS NULL
-- ----
SELECT readfile('/etc/passwd')
-- ----
SELECT writefile('/tmp/sqlr1x_adversarial_w.txt', 'x')
-- ----
SELECT edit('x')
-- ----
SELECT fts3_tokenizer('simple')
-- ----
SELECT * FROM (SELECT load_extension('x'))
-- ----
BEGIN
-- ----
BEGIN IMMEDIATE
-- ----
BEGIN EXCLUSIVE
-- ----
BEGIN TRANSACTION; DELETE FROM employees; COMMIT
-- ----
COMMIT
-- ----
END
-- ----
ROLLBACK
-- ----
SAVEPOINT s
-- ----
RELEASE s
-- ----
ROLLBACK TO s
-- ----
BEGIN; SELECT 1
-- ----
SELECT 1; BEGIN
