# Statements that write: every kind of DML and DDL, RETURNING, writes to sqlite_master, VACUUM INTO a new file.
# Expected: never executed (not_authorized, multiple_statements or a parse error); files unchanged.
DELETE FROM employees
-- ----
DELETE FROM employees WHERE id = 1
-- ----
UPDATE employees SET salary = 0
-- ----
UPDATE employees SET name = 'x' WHERE id = 1
-- ----
INSERT INTO employees (id, name) VALUES (99, 'Eve')
-- ----
INSERT INTO employees SELECT * FROM employees
-- ----
INSERT OR REPLACE INTO employees (id, name) VALUES (1, 'Z')
-- ----
REPLACE INTO departments VALUES (1, 'X', 0)
-- ----
INSERT INTO employees (id) VALUES (1) ON CONFLICT(id) DO UPDATE SET name = 'u'
-- ----
INSERT INTO employees DEFAULT VALUES
-- ----
DROP TABLE employees
-- ----
DROP TABLE IF EXISTS departments
-- ----
DROP VIEW IF EXISTS v
-- ----
DROP INDEX IF EXISTS i
-- ----
DROP TRIGGER IF EXISTS tr
-- ----
CREATE TABLE t (x)
-- ----
CREATE TABLE IF NOT EXISTS t2 AS SELECT * FROM employees
-- ----
CREATE TEMP TABLE t (x)
-- ----
CREATE TEMPORARY VIEW tv AS SELECT 1
-- ----
CREATE INDEX i ON employees(name)
-- ----
CREATE UNIQUE INDEX ui ON employees(id)
-- ----
CREATE VIEW v AS SELECT * FROM employees
-- ----
CREATE TRIGGER tr AFTER INSERT ON employees BEGIN DELETE FROM employees; END
-- ----
CREATE VIRTUAL TABLE vt USING fts5(x)
-- ----
CREATE VIRTUAL TABLE r USING rtree(id, a, b)
-- ----
ALTER TABLE employees ADD COLUMN x
-- ----
ALTER TABLE employees RENAME TO e2
-- ----
ALTER TABLE employees RENAME COLUMN name TO nm
-- ----
ALTER TABLE employees DROP COLUMN salary
-- ----
VACUUM
-- ----
VACUUM INTO 'copy.sqlite'
-- ----
VACUUM INTO '/tmp/sqlr1x_adversarial_vacuum.sqlite'
-- ----
REINDEX
-- ----
REINDEX employees
-- ----
ANALYZE
-- ----
ANALYZE employees
-- ----
WITH d AS (SELECT 1) DELETE FROM employees
-- ----
WITH d AS (SELECT id FROM employees) UPDATE employees SET salary = 1 WHERE id IN d
-- ----
WITH d AS (SELECT 1) INSERT INTO employees(id) SELECT * FROM d
-- ----
DELETE FROM employees RETURNING *
-- ----
UPDATE employees SET salary = salary + 1 RETURNING id, salary
-- ----
INSERT INTO employees(id, name) VALUES (100, 'r') RETURNING *
-- ----
INSERT INTO sqlite_master VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x(y)')
-- ----
DELETE FROM sqlite_sequence
-- ----
UPDATE sqlite_master SET sql = NULL
-- ----
SELECT * FROM employees; DELETE FROM employees
