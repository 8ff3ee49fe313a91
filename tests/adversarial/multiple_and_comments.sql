# Several statements, and comments that hide (or seem to hide) statements.
# Expected: only a single SELECT could ever run; none of these changes anything.
SELECT 1; SELECT 2
-- ----
SELECT name FROM employees; DROP TABLE employees
-- ----
SELECT 1;; SELECT 2
-- ----
SELECT 1; -- trailing
DELETE FROM employees
-- ----
SELECT 1 /* ; */; DELETE FROM employees
-- ----
SELECT ';'; DELETE FROM employees
-- ----
SELECT 1
;
UPDATE employees SET salary = 0
-- ----
SELECT 1; ATTACH 'm.sqlite' AS m
-- ----
SELECT 1; PRAGMA writable_schema = ON
-- ----
SELECT 1; VACUUM
-- ----
-- SELECT 1
DELETE FROM employees
-- ----
/* SELECT */ DELETE FROM employees
-- ----
/* unterminated comment DELETE FROM employees
-- ----
SELECT 1 -- ; DELETE FROM employees
-- ----
SELECT /* DELETE FROM employees; */ 1
-- ----
/**/DELETE/**/FROM/**/employees
-- ----
SELECT 1 /* */ ; /* */ INSERT INTO employees(id) VALUES (5)
-- ----
-- only a comment
-- ----
/* only a comment */
-- ----
;
-- ----
;;;
-- ----
SELECT 1; DELETE FROM employees
-- ----
SELECT 1;	DROP TABLE employees
-- ----
DELETE FROM employees
