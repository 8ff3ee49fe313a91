"""Spider's hardness levels (easy / medium / hard / extra) of a SQL query, from sqlglot's AST.

Reimplements ``Evaluator.eval_hardness`` of Spider's ``evaluation.py`` on the outermost SELECT:

- component1: WHERE, GROUP BY, ORDER BY, LIMIT present (1 each), joined tables beyond the first,
  ``OR`` connectives and ``LIKE`` predicates in WHERE/HAVING;
- component2: nested queries (subqueries in FROM/WHERE/HAVING and INTERSECT/UNION/EXCEPT);
- others: more than one aggregate (SELECT, GROUP BY, ORDER BY, HAVING), more than one SELECT item,
  more than one WHERE condition, more than one GROUP BY key.

Spider counts these on its own parse tree, whose quirks (an aggregate inside a WHERE condition only
counts under NOT; each AND/OR in HAVING counts as an aggregate) are not reproduced. Unparseable SQL
gives None.

>>> spider_hardness("SELECT count(*) FROM singer")
'easy'
>>> spider_hardness("SELECT name, country FROM singer WHERE age > 20")
'medium'
>>> spider_hardness("SELECT name FROM singer WHERE id NOT IN (SELECT singer_id FROM concert)")
'hard'
>>> spider_hardness("SELECT T1.name, count(*) FROM a AS T1 JOIN b AS T2 ON T1.id = T2.a_id GROUP BY T1.id ORDER BY count(*) DESC LIMIT 1")
'extra'
"""

from __future__ import annotations

from functools import lru_cache

from sqlglot import exp

LEVELS: tuple[str, ...] = ("easy", "medium", "hard", "extra")


def _top_select(node: exp.Expression) -> exp.Select | None:
    while isinstance(node, (exp.Subquery, exp.Paren)):
        node = node.this
    if isinstance(node, exp.SetOperation):
        return _top_select(node.this)
    return node if isinstance(node, exp.Select) else None


def _conditions(where: exp.Expression | None) -> list[exp.Expression]:
    """Atomic predicates of a WHERE/HAVING condition, flattening AND/OR and parentheses."""
    if where is None:
        return []
    stack, atoms = [where.this if isinstance(where, (exp.Where, exp.Having)) else where], []
    while stack:
        node = stack.pop()
        if isinstance(node, (exp.And, exp.Or)):
            stack += [node.left, node.right]
        elif isinstance(node, exp.Paren):
            stack.append(node.this)
        else:
            atoms.append(node)
    return atoms


def _count_connectives(cond: exp.Expression | None, kind: type) -> int:
    if cond is None:
        return 0
    stack, count = [cond.this], 0
    while stack:
        node = stack.pop()
        if isinstance(node, (exp.And, exp.Or)):
            count += isinstance(node, kind)
            stack += [node.left, node.right]
        elif isinstance(node, exp.Paren):
            stack.append(node.this)
    return count


def _n_aggregates(nodes: list[exp.Expression]) -> int:
    return sum(1 for node in nodes for a in node.find_all(exp.AggFunc) if not _nested(a, node))


def _nested(node: exp.Expression, root: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and parent is not root:
        if isinstance(parent, (exp.Select, exp.Subquery)):
            return True
        parent = parent.parent
    return False


def _counts(tree: exp.Expression) -> tuple[int, int, int]:
    select = _top_select(tree)
    if select is None:
        return 0, 0, 0
    where, having = select.args.get("where"), select.args.get("having")
    group = select.args.get("group")
    order = select.args.get("order")
    conds = _conditions(where) + _conditions(having)

    comp1 = sum(select.args.get(k) is not None for k in ("where", "group", "order", "limit"))
    comp1 += len(select.args.get("joins") or [])
    comp1 += _count_connectives(where, exp.Or) + _count_connectives(having, exp.Or)
    comp1 += sum(
        isinstance(c, (exp.Like, exp.ILike)) or (isinstance(c, exp.Not) and isinstance(c.this, exp.Like))
        for c in conds
    )

    comp2 = 0
    node = tree
    while isinstance(node, (exp.Subquery, exp.Paren)):
        node = node.this
    while isinstance(node, exp.SetOperation):
        comp2 += 1
        node = node.this
        while isinstance(node, (exp.Subquery, exp.Paren)):
            node = node.this
    sources = [select.args.get("from"), *(select.args.get("joins") or [])]
    comp2 += sum(1 for s in sources if s is not None and isinstance(s.this, exp.Subquery))
    comp2 += sum(1 for c in conds for q in c.find_all(exp.Select) if q.parent_select is select)

    others = 0
    agg_nodes = list(select.expressions) + ([group] if group is not None else [])
    agg_nodes += [order] if order is not None else []
    agg_nodes += [having] if having is not None else []
    others += _n_aggregates(agg_nodes) > 1
    others += len(select.expressions) > 1
    others += len(_conditions(where)) > 1
    others += group is not None and len(group.expressions) > 1
    return comp1, comp2, others


@lru_cache(maxsize=16384)
def spider_hardness(sql: str) -> str | None:
    """``easy`` | ``medium`` | ``hard`` | ``extra`` for ``sql`` (Spider's rules), None when unparseable."""
    from sqlr1x.sql.analysis import parse_sql

    parsed = parse_sql(sql)
    if not parsed.ok or parsed.expression is None:
        return None
    c1, c2, o = _counts(parsed.expression)
    if c1 <= 1 and o == 0 and c2 == 0:
        return "easy"
    if (o <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and o < 2 and c2 == 0):
        return "medium"
    if (
        (o > 2 and c1 <= 2 and c2 == 0)
        or (2 < c1 <= 3 and o <= 2 and c2 == 0)
        or (c1 <= 1 and o == 0 and c2 <= 1)
    ):
        return "hard"
    return "extra"
