# Runaway time and memory: infinite recursive CTEs, cross-join bombs, randomblob/zeroblob bombs, huge strings.
# Expected: stopped by the time limit, the value length limit or the result byte budget.
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c ORDER BY x DESC LIMIT 1
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT sum(x) FROM c WHERE x % 2 = 0
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x < 0
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c AS a, c AS b
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION SELECT x + 1 FROM c) SELECT count(*) FROM c
-- ----
WITH RECURSIVE s(x) AS (SELECT '' UNION ALL SELECT x || 'a' FROM s) SELECT length(x) FROM s ORDER BY 1 DESC LIMIT 1
-- ----
WITH RECURSIVE s(x) AS (SELECT 'a' UNION ALL SELECT x || x FROM s) SELECT count(*) FROM s
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x FROM c) SELECT DISTINCT x FROM c
-- ----
SELECT count(*) FROM employees a, employees b, employees c, employees d, employees e, employees f, employees g, employees h, employees i, employees j, employees k, employees l
-- ----
SELECT count(*) FROM employees a CROSS JOIN employees b CROSS JOIN employees c CROSS JOIN employees d CROSS JOIN employees e CROSS JOIN employees f CROSS JOIN employees g CROSS JOIN employees h CROSS JOIN employees i CROSS JOIN employees j CROSS JOIN employees k CROSS JOIN employees m
-- ----
SELECT a.name FROM employees a, employees b, employees c, employees d, employees e, employees f, employees g, employees h, employees i, employees j ORDER BY random() LIMIT 1
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT a.x FROM c a JOIN c b ON a.x = b.x LIMIT 1 OFFSET 1000000000
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT randomblob(1000000) FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT zeroblob(1000000) FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, randomblob(32000000) FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT hex(randomblob(10000000)) FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT printf('%.*c', 1000000, 'x') FROM c
-- ----
SELECT zeroblob(1000000000)
-- ----
SELECT length(zeroblob(2147483647))
-- ----
SELECT randomblob(1000000000)
-- ----
SELECT hex(zeroblob(500000000))
-- ----
SELECT replace(hex(zeroblob(10000000)), '0', '00000000')
-- ----
SELECT printf('%.*c', 2147483647, 'x')
-- ----
SELECT zeroblob(600000000) || zeroblob(600000000)
-- ----
WITH RECURSIVE s(x) AS (SELECT zeroblob(1000000) UNION ALL SELECT x FROM s) SELECT x FROM s
-- ----
SELECT group_concat(hex(randomblob(1000000))) FROM employees a, employees b, employees c, employees d, employees e
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT group_concat(x) FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c
-- ----
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000000) SELECT x, x, x FROM c
-- ----
SELECT like('%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b', (WITH RECURSIVE s(x) AS (SELECT 'a' UNION ALL SELECT x || 'a' FROM s LIMIT 30000) SELECT group_concat(x, '') FROM s))
-- ----
SELECT (SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c))
-- ----
SELECT name FROM employees WHERE id IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)
-- ----
SELECT name FROM employees WHERE EXISTS (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x < 0)
