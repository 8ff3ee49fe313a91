# ATTACH and DETACH, with new relative and absolute file paths, URIs, :memory:, the database itself.
# Expected: never executed; no new file appears anywhere the test watches.
ATTACH DATABASE 'new.sqlite' AS n
-- ----
ATTACH 'new.sqlite' AS n
-- ----
ATTACH DATABASE './sub/dir/new.sqlite' AS n
-- ----
ATTACH DATABASE '/tmp/sqlr1x_adversarial_attach.sqlite' AS n
-- ----
ATTACH DATABASE ':memory:' AS m
-- ----
ATTACH DATABASE '' AS e
-- ----
ATTACH DATABASE 'file:new2.sqlite?mode=rwc' AS n
-- ----
ATTACH DATABASE 'file:new3.sqlite?mode=rw' AS n
-- ----
ATTACH DATABASE 'file::memory:?cache=shared' AS n
-- ----
ATTACH DATABASE 'company.sqlite' AS self
-- ----
ATTACH DATABASE 'copy.sqlite' AS c
-- ----
DETACH DATABASE main
-- ----
DETACH DATABASE temp
-- ----
DETACH n
-- ----
ATTACH 'x.sqlite' AS x; CREATE TABLE x.t(a)
-- ----
SELECT 1; ATTACH 'y.sqlite' AS y
-- ----
ATTACH (SELECT 'z.sqlite') AS z
-- ----
ATTACH DATABASE 'new.sqlite' || '' AS n
-- ----
attach database "new4.sqlite" as n
-- ----
/* hide */ ATTACH DATABASE 'new5.sqlite' AS n
