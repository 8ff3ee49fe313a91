# Parser and encoding stress: nesting deep enough to hit recursion limits, 1 MB identifiers and strings,
# NUL bytes, invalid UTF-8 and keyword homoglyphs.
# Macros: {{REPEAT:<unit>:<count>}} repeats <unit>; {{BYTE:<hex>}} is one raw byte (files stay readable).
# Expected: any defined outcome (a read may succeed), never an exception, a changed file or a hang.
SELECT {{REPEAT:(:5000}}1{{REPEAT:):5000}}
-- ----
SELECT {{REPEAT:(:200000}}1{{REPEAT:):200000}}
-- ----
SELECT 1{{REPEAT: + 1:100000}}
-- ----
SELECT {{REPEAT:-:100000}}1
-- ----
SELECT {{REPEAT:NOT :50000}}1
-- ----
SELECT * FROM {{REPEAT:(SELECT * FROM :3000}}employees{{REPEAT:):3000}}
-- ----
SELECT 1 WHERE 1 IN ({{REPEAT:1, :100000}}1)
-- ----
SELECT CASE {{REPEAT:WHEN 1 THEN 1 :20000}}END
-- ----
SELECT {{REPEAT:coalesce(:3000}}1{{REPEAT:):3000}}
-- ----
SELECT 1 {{REPEAT:UNION SELECT 1 :10000}}
-- ----
SELECT {{REPEAT:a:1048576}} FROM employees
-- ----
SELECT name FROM {{REPEAT:t:1048576}}
-- ----
SELECT "{{REPEAT:x:1048576}}" FROM employees
-- ----
SELECT '{{REPEAT:s:1048576}}'
-- ----
SELECT name FROM employees WHERE name = '{{REPEAT:n:1048576}}'
-- ----
SELECT x'{{REPEAT:ab:524288}}'
-- ----
SELECT name AS {{REPEAT:alias:200000}} FROM employees
-- ----
SELECT name FROM employees -- {{REPEAT:c:1048576}}
-- ----
SELECT name FROM employees WHERE name = '{{BYTE:00}}'
-- ----
SELECT name{{BYTE:00}} FROM employees
-- ----
SELECT 1{{BYTE:00}}; DELETE FROM employees
-- ----
{{BYTE:00}}
-- ----
SELECT name FROM employees WHERE name = '{{BYTE:ff}}{{BYTE:fe}}'
-- ----
SELECT '{{BYTE:c3}}'
-- ----
SELECT {{BYTE:ed}}{{BYTE:a0}}{{BYTE:80}} FROM employees
-- ----
SELECT name FROM employees {{BYTE:80}}{{BYTE:80}}
-- ----
{{BYTE:ef}}{{BYTE:bb}}{{BYTE:bf}}SELECT 1
-- ----
SELECT '😀' || name FROM employees
-- ----
SЕLECT name FROM employees
-- ----
SELECТ name FROM employees
-- ----
ЅELECT name FROM employees
-- ----
SELECT name ＦＲＯＭ employees
-- ----
SELECT name FRОM employees
-- ----
SELECT name FROM employees WHЕRE id = 1
-- ----
ＳＥＬＥＣＴ 1
-- ----
SELECT​name FROM employees
-- ----
SELECT name FROM employees DELETE FROM employees
-- ----
DЕLETE FROM employees
-- ----
SELECT name FROM employees WHERE id = 1 ; DELETE FROM employees
-- ----
SELECT 1 –– DELETE FROM employees
-- ----
SELECT “name” FROM employees
