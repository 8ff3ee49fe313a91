"""Build tool: deterministic generator of the bundled offline demo dataset (``demo:train`` /
``demo:dev``). Not part of the runtime package: the generated files are committed under
``src/sqlr1x/data/demo/`` and read by ``sqlr1x.data.load_spec``; run this only to change them::

    python tools/make_demo_data.py [--out DIR]      # or: sqlr1x data make-demo (source checkout)

Five small SQLite databases of different domains (company, retail, school, library, clinic) with
foreign keys, NULLs, one column name containing a space (``employees."hire date"``) and
near-duplicate column names that invite hallucination (``customer_name`` vs ``name``,
``order_date`` vs ``date``, two ``budget`` columns). Question/SQL pairs come from templates that
cover projection, filters, joins, GROUP BY/HAVING, ORDER BY/LIMIT and nested queries.

Every question carries its literal values exactly as the SQL literal (``... is 'Sales'``) so that a
tiny model can copy them, and every gold SQL is single-line with uppercase keywords and lowercase
identifiers. The generator executes every gold query and keeps only those with a non-empty result.

Output layout (Spider-like)::

    demo/databases/<db_id>/<db_id>.sqlite   demo/tables.json   demo/train.json   demo/dev.json

Regenerating gives byte-identical files: seeded ``random.Random``, fixed iteration order, databases
built in memory and written with ``VACUUM INTO``, and the one header field that depends on the SQLite
library version normalised (see ``_write_sqlite``).

Example::

    >>> from sqlr1x.data import demo_path
    >>> (demo_path() / "train.json").is_file()
    True
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlr1x.data.spec import demo_path

DEMO_SEED = 20260
N_TRAIN = 640
N_DEV = 160
# SQLITE_VERSION_NUMBER written at header offset 96 of every demo database, whatever library wrote it.
_HEADER_VERSION = 3_040_001


# --------------------------------------------------------------------------------------------------
# database content


@dataclass
class TableMeta:
    """What the templates need to know about one table."""

    name: str
    singular: str
    label: str | None = None  # the text column that names a row
    cats: list[str] = field(default_factory=list)  # low-cardinality text columns
    nums: list[str] = field(default_factory=list)  # numeric columns without NULLs
    null_nums: list[str] = field(default_factory=list)  # numeric columns with NULLs (aggregates only)
    dates: list[str] = field(default_factory=list)  # 'YYYY-MM-DD' text columns without NULLs
    nullable: list[str] = field(default_factory=list)  # columns with NULLs (IS NULL templates)
    fks: list[tuple[str, str]] = field(default_factory=list)  # (fk column, parent table); parent key is id


@dataclass
class Bridge:
    """A many-to-many link: ``left`` rows related to ``right`` rows through ``junction``."""

    junction: str
    left: str
    left_fk: str
    right: str
    right_fk: str
    verb: str  # "assigned to": "employees assigned to the project with ..."


@dataclass
class DemoDB:
    db_id: str
    ddl: str
    rows: dict[str, list[tuple]]
    tables: list[TableMeta]
    bridges: list[Bridge] = field(default_factory=list)

    def meta(self, name: str) -> TableMeta:
        return next(t for t in self.tables if t.name == name)


FIRST = [
    "Alice",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Samir",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amara",
    "Boris",
    "Carmen",
    "Daniel",
]
LAST = [
    "Martin",
    "Okafor",
    "Tanaka",
    "Silva",
    "Novak",
    "Haddad",
    "Berg",
    "Rossi",
    "Kim",
    "Dubois",
    "Mensah",
    "Lopez",
    "Weber",
    "Singh",
    "Moreau",
    "Costa",
    "Ivanova",
    "Park",
    "Nguyen",
    "Fischer",
]
CITIES = ["Berlin", "Lyon", "Madrid", "Paris", "Rome", "Vienna"]


def _people(rng: random.Random, n: int) -> list[str]:
    pairs = sorted(itertools.product(FIRST, LAST))
    return [f"{a} {b}" for a, b in rng.sample(pairs, n)]


def _date(rng: random.Random, start_year: int, end_year: int) -> str:
    return f"{rng.randint(start_year, end_year)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _maybe_null(rng: random.Random, value, p: float):
    return None if rng.random() < p else value


def _company(rng: random.Random) -> DemoDB:
    ddl = """
CREATE TABLE departments (id INTEGER PRIMARY KEY, name TEXT NOT NULL, location TEXT, budget REAL);
CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, title TEXT, salary REAL, "hire date" TEXT,
    department_id INTEGER REFERENCES departments(id), manager_id INTEGER REFERENCES employees(id));
CREATE TABLE projects (id INTEGER PRIMARY KEY, project_name TEXT NOT NULL, department_id INTEGER REFERENCES departments(id),
    budget REAL, status TEXT);
CREATE TABLE assignments (employee_id INTEGER REFERENCES employees(id), project_id INTEGER REFERENCES projects(id),
    hours INTEGER, role TEXT, PRIMARY KEY (employee_id, project_id));
"""
    departments = [
        (1, "Sales", "Berlin", 120000.0),
        (2, "Engineering", "London", 450000.0),
        (3, "Marketing", "Paris", 90000.0),
        (4, "Finance", "Berlin", 150000.0),
        (5, "Support", "Madrid", 60000.0),
        (6, "Research", "London", 300000.0),
    ]
    titles = ["Analyst", "Assistant", "Director", "Engineer", "Manager"]
    employees = []
    for i, name in enumerate(_people(rng, 40), start=1):
        salary = _maybe_null(rng, float(rng.randint(35, 120) * 1000), 0.08)
        hire = _date(rng, 2012, 2023)
        manager = None if i <= 6 else rng.randint(1, 6)
        employees.append((i, name, rng.choice(titles), salary, hire, rng.randint(1, 6), manager))
    names = [
        "Apollo",
        "Borealis",
        "Cobalt",
        "Delta",
        "Ember",
        "Falcon",
        "Granite",
        "Horizon",
        "Iris",
        "Juniper",
    ]
    statuses = ["active", "completed", "planned"]
    projects = [
        (i, n, rng.choice([1, 2, 2, 3, 4, 6]), float(rng.randint(10, 200) * 1000), rng.choice(statuses))
        for i, n in enumerate(names, start=1)
    ]
    pairs = rng.sample(sorted(itertools.product(range(1, 41), range(1, len(names) + 1))), 50)
    roles = ["developer", "lead", "reviewer", "tester"]
    assignments = [(e, p, rng.randint(5, 40), rng.choice(roles)) for e, p in sorted(pairs)]
    return DemoDB(
        "company",
        ddl,
        {
            "departments": departments,
            "employees": employees,
            "projects": projects,
            "assignments": assignments,
        },
        [
            TableMeta("departments", "department", "name", ["location"], ["budget"]),
            TableMeta(
                "employees",
                "employee",
                "name",
                ["title"],
                [],
                ["salary"],
                ["hire date"],
                ["salary", "manager_id"],
                [("department_id", "departments")],
            ),
            TableMeta(
                "projects",
                "project",
                "project_name",
                ["status"],
                ["budget"],
                fks=[("department_id", "departments")],
            ),
            TableMeta(
                "assignments",
                "assignment",
                None,
                ["role"],
                ["hours"],
                fks=[("project_id", "projects"), ("employee_id", "employees")],
            ),
        ],
        [Bridge("assignments", "employees", "employee_id", "projects", "project_id", "assigned to")],
    )


def _retail(rng: random.Random) -> DemoDB:
    ddl = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_name TEXT NOT NULL, city TEXT, email TEXT, segment TEXT);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT, price REAL, stock INTEGER);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), order_date TEXT, status TEXT);
CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id),
    product_id INTEGER REFERENCES products(id), quantity INTEGER);
CREATE TABLE payments (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id), amount REAL, date TEXT, method TEXT);
"""
    segments = ["consumer", "corporate", "small business"]
    customers = []
    for i, name in enumerate(_people(rng, 30), start=1):
        email = _maybe_null(rng, name.lower().replace(" ", ".") + "@example.com", 0.2)
        customers.append((i, name, rng.choice(CITIES), email, rng.choice(segments)))
    catalogue = [
        ("Desk Lamp", "furniture"),
        ("Office Chair", "furniture"),
        ("Bookshelf", "furniture"),
        ("Standing Desk", "furniture"),
        ("Laptop", "electronics"),
        ("Monitor", "electronics"),
        ("Keyboard", "electronics"),
        ("Headphones", "electronics"),
        ("Webcam", "electronics"),
        ("Notebook", "office"),
        ("Stapler", "office"),
        ("Pen Set", "office"),
        ("Paper Ream", "office"),
        ("Kettle", "kitchen"),
        ("Coffee Mug", "kitchen"),
        ("Toaster", "kitchen"),
        ("Blender", "kitchen"),
        ("Water Bottle", "kitchen"),
    ]
    products = [
        (i, n, c, round(rng.randint(300, 90000) / 100, 2), rng.randint(0, 80))
        for i, (n, c) in enumerate(catalogue, start=1)
    ]
    statuses = ["cancelled", "delivered", "pending", "shipped"]
    orders = [(i, rng.randint(1, 30), _date(rng, 2023, 2024), rng.choice(statuses)) for i in range(1, 61)]
    items = [(i, rng.randint(1, 60), rng.randint(1, len(products)), rng.randint(1, 5)) for i in range(1, 121)]
    methods = ["card", "cash", "transfer"]
    paid = sorted(rng.sample(range(1, 61), 50))
    payments = [
        (i, o, round(rng.randint(1000, 150000) / 100, 2), _date(rng, 2023, 2024), rng.choice(methods))
        for i, o in enumerate(paid, start=1)
    ]
    return DemoDB(
        "retail",
        ddl,
        {
            "customers": customers,
            "products": products,
            "orders": orders,
            "order_items": items,
            "payments": payments,
        },
        [
            TableMeta("customers", "customer", "customer_name", ["city", "segment"], nullable=["email"]),
            TableMeta("products", "product", "name", ["category"], ["price", "stock"]),
            TableMeta(
                "orders",
                "order",
                None,
                ["status"],
                [],
                dates=["order_date"],
                fks=[("customer_id", "customers")],
            ),
            TableMeta("order_items", "order item", None, [], ["quantity"], fks=[("product_id", "products")]),
            TableMeta("payments", "payment", None, ["method"], ["amount"], dates=["date"]),
        ],
    )


def _school(rng: random.Random) -> DemoDB:
    ddl = """
CREATE TABLE teachers (id INTEGER PRIMARY KEY, teacher_name TEXT NOT NULL, department TEXT, office TEXT);
CREATE TABLE courses (id INTEGER PRIMARY KEY, title TEXT NOT NULL, teacher_id INTEGER REFERENCES teachers(id),
    credits INTEGER, level TEXT);
CREATE TABLE students (id INTEGER PRIMARY KEY, name TEXT NOT NULL, major TEXT, year INTEGER, gpa REAL);
CREATE TABLE enrollments (student_id INTEGER REFERENCES students(id), course_id INTEGER REFERENCES courses(id),
    grade REAL, semester TEXT, PRIMARY KEY (student_id, course_id));
"""
    departments = ["Biology", "History", "Mathematics", "Physics"]
    teachers = [
        (i, n, rng.choice(departments), _maybe_null(rng, f"Room {rng.randint(100, 399)}", 0.3))
        for i, n in enumerate(_people(rng, 10), start=1)
    ]
    titles = [
        "Algebra",
        "Calculus",
        "Statistics",
        "Mechanics",
        "Optics",
        "Genetics",
        "Ecology",
        "Ancient Rome",
        "Modern Europe",
        "Databases",
        "Economics I",
        "Astronomy",
    ]
    levels = ["advanced", "intermediate", "introductory"]
    courses = [
        (i, t, rng.randint(1, 10), rng.choice([2, 3, 4, 6]), rng.choice(levels))
        for i, t in enumerate(titles, start=1)
    ]
    majors = ["Biology", "Economics", "History", "Mathematics", "Physics"]
    students = [
        (i, n, rng.choice(majors), rng.randint(1, 4), _maybe_null(rng, rng.randint(20, 40) / 10, 0.1))
        for i, n in enumerate(_people(rng, 40), start=1)
    ]
    semesters = ["Fall 2023", "Fall 2024", "Spring 2024"]
    pairs = sorted(rng.sample(sorted(itertools.product(range(1, 41), range(1, len(titles) + 1))), 100))
    enrollments = [
        (s, c, _maybe_null(rng, float(rng.randint(50, 100)), 0.15), rng.choice(semesters)) for s, c in pairs
    ]
    return DemoDB(
        "school",
        ddl,
        {"teachers": teachers, "courses": courses, "students": students, "enrollments": enrollments},
        [
            TableMeta("teachers", "teacher", "teacher_name", ["department"], nullable=["office"]),
            TableMeta("courses", "course", "title", ["level"], ["credits"], fks=[("teacher_id", "teachers")]),
            TableMeta("students", "student", "name", ["major"], ["year"], ["gpa"], nullable=["gpa"]),
            TableMeta(
                "enrollments",
                "enrollment",
                None,
                ["semester"],
                [],
                ["grade"],
                nullable=["grade"],
                fks=[("course_id", "courses"), ("student_id", "students")],
            ),
        ],
        [Bridge("enrollments", "students", "student_id", "courses", "course_id", "enrolled in")],
    )


def _library(rng: random.Random) -> DemoDB:
    ddl = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT, birth_year INTEGER);
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER REFERENCES authors(id), genre TEXT,
    pub_year INTEGER, pages INTEGER);
CREATE TABLE members (id INTEGER PRIMARY KEY, member_name TEXT NOT NULL, city TEXT, join_date TEXT);
CREATE TABLE loans (id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES books(id), member_id INTEGER REFERENCES members(id),
    loan_date TEXT, return_date TEXT);
"""
    countries = ["Brazil", "Canada", "France", "India", "Japan", "Nigeria"]
    authors = [
        (i, n, rng.choice(countries), rng.randint(1930, 1990))
        for i, n in enumerate(_people(rng, 12), start=1)
    ]
    words_a = ["Silent", "Hidden", "Last", "Golden", "Broken", "Distant", "Burning"]
    words_b = ["River", "Garden", "Empire", "Harbor", "Mirror", "Forest", "Letter"]
    titles = [f"The {a} {b}" for a, b in rng.sample(sorted(itertools.product(words_a, words_b)), 30)]
    genres = ["fantasy", "history", "mystery", "poetry", "science fiction"]
    books = [
        (i, t, rng.randint(1, 12), rng.choice(genres), rng.randint(1960, 2023), rng.randint(90, 700))
        for i, t in enumerate(titles, start=1)
    ]
    members = [
        (i, n, rng.choice(CITIES), _date(rng, 2015, 2024)) for i, n in enumerate(_people(rng, 25), start=1)
    ]
    loans = []
    for i in range(1, 71):
        loan_date = _date(rng, 2023, 2024)
        loans.append(
            (
                i,
                rng.randint(1, 30),
                rng.randint(1, 25),
                loan_date,
                _maybe_null(rng, loan_date[:8] + "28", 0.3),
            )
        )
    return DemoDB(
        "library",
        ddl,
        {"authors": authors, "books": books, "members": members, "loans": loans},
        [
            TableMeta("authors", "author", "name", ["country"], ["birth_year"]),
            TableMeta(
                "books", "book", "title", ["genre"], ["pub_year", "pages"], fks=[("author_id", "authors")]
            ),
            TableMeta("members", "member", "member_name", ["city"], dates=["join_date"]),
            TableMeta(
                "loans",
                "loan",
                None,
                [],
                [],
                dates=["loan_date"],
                nullable=["return_date"],
                fks=[("book_id", "books"), ("member_id", "members")],
            ),
        ],
        [Bridge("loans", "members", "member_id", "books", "book_id", "who borrowed")],
    )


def _clinic(rng: random.Random) -> DemoDB:
    ddl = """
CREATE TABLE doctors (id INTEGER PRIMARY KEY, doctor_name TEXT NOT NULL, specialty TEXT, years_experience INTEGER);
CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, birth_year INTEGER, insurance TEXT);
CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
    doctor_id INTEGER REFERENCES doctors(id), date TEXT, fee REAL, status TEXT);
"""
    specialties = ["cardiology", "dermatology", "neurology", "oncology", "pediatrics"]
    doctors = [
        (i, n, rng.choice(specialties), rng.randint(2, 35)) for i, n in enumerate(_people(rng, 10), start=1)
    ]
    patients = [
        (
            i,
            n,
            rng.choice(CITIES),
            rng.randint(1940, 2015),
            _maybe_null(rng, rng.choice(["private", "public"]), 0.2),
        )
        for i, n in enumerate(_people(rng, 40), start=1)
    ]
    statuses = ["cancelled", "completed", "scheduled"]
    appointments = [
        (
            i,
            rng.randint(1, 40),
            rng.randint(1, 10),
            _date(rng, 2023, 2024),
            float(rng.randint(4, 30) * 10),
            rng.choice(statuses),
        )
        for i in range(1, 91)
    ]
    return DemoDB(
        "clinic",
        ddl,
        {"doctors": doctors, "patients": patients, "appointments": appointments},
        [
            TableMeta("doctors", "doctor", "doctor_name", ["specialty"], ["years_experience"]),
            TableMeta("patients", "patient", "name", ["city"], ["birth_year"], nullable=["insurance"]),
            TableMeta(
                "appointments",
                "appointment",
                None,
                ["status"],
                ["fee"],
                dates=["date"],
                fks=[("doctor_id", "doctors"), ("patient_id", "patients")],
            ),
        ],
        [
            Bridge(
                "appointments",
                "patients",
                "patient_id",
                "doctors",
                "doctor_id",
                "who had an appointment with",
            )
        ],
    )


BUILDERS: list[Callable[[random.Random], DemoDB]] = [_company, _retail, _school, _library, _clinic]


# --------------------------------------------------------------------------------------------------
# SQL and question templates


def _ident(name: str) -> str:
    return f'"{name}"' if not name.isidentifier() else name


def _phrase(name: str) -> str:
    return name.replace("_", " ")


def _lit(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plural(meta: TableMeta) -> str:
    return _phrase(meta.name)


AGGS = [("AVG", "average"), ("MAX", "maximum"), ("MIN", "minimum"), ("SUM", "total")]


@dataclass(frozen=True)
class Candidate:
    template: str
    difficulty: str
    question: str
    query: str


class _Gen:
    """Template instantiation for one database."""

    def __init__(self, db: DemoDB, con: sqlite3.Connection, rng: random.Random):
        self.db, self.con, self.rng = db, con, rng

    def values(self, table: str, column: str, k: int = 3) -> list:
        rows = self.con.execute(
            f"SELECT DISTINCT {_ident(column)} FROM {table} WHERE {_ident(column)} IS NOT NULL ORDER BY 1"
        ).fetchall()
        vals = [r[0] for r in rows]
        return self.rng.sample(vals, min(k, len(vals)))

    def mid_values(self, table: str, column: str, k: int = 2) -> list:
        """Values strictly inside the column's range, so both `>` and `<` filters return rows."""
        vals = sorted(
            {r[0] for r in self.con.execute(f"SELECT {_ident(column)} FROM {table}") if r[0] is not None}
        )
        inner = vals[len(vals) // 5 : max(len(vals) // 5 + 1, 4 * len(vals) // 5)]
        return self.rng.sample(inner, min(k, len(inner)))

    def single(self) -> Iterator[Candidate]:
        for t in self.db.tables:
            n, s, tb = _plural(t), t.singular, t.name
            yield Candidate("count_all", "easy", f"How many {n} are there?", f"SELECT COUNT(*) FROM {tb}")
            for c in t.cats:
                cp, ci = _phrase(c), _ident(c)
                yield Candidate(
                    "distinct",
                    "easy",
                    f"List the distinct {cp} values of {n}.",
                    f"SELECT DISTINCT {ci} FROM {tb}",
                )
                yield Candidate(
                    "group_count",
                    "medium",
                    f"For each {cp}, how many {n} are there?",
                    f"SELECT {ci}, COUNT(*) FROM {tb} GROUP BY {ci}",
                )
                for k in (2, 3, 5):
                    yield Candidate(
                        "having",
                        "hard",
                        f"Which {cp} values have at least {k} {n}?",
                        f"SELECT {ci} FROM {tb} GROUP BY {ci} HAVING COUNT(*) >= {k}",
                    )
                for v in self.values(tb, c):
                    yield Candidate(
                        "count_filter",
                        "easy",
                        f"How many {n} have {cp} {_lit(v)}?",
                        f"SELECT COUNT(*) FROM {tb} WHERE {ci} = {_lit(v)}",
                    )
                    if t.label:
                        yield Candidate(
                            "filter_eq",
                            "easy",
                            f"List the {_phrase(t.label)} of {n} whose {cp} is {_lit(v)}.",
                            f"SELECT {_ident(t.label)} FROM {tb} WHERE {ci} = {_lit(v)}",
                        )
                for num in t.nums + t.null_nums:
                    agg, word = self.rng.choice(AGGS)
                    yield Candidate(
                        "group_agg",
                        "medium",
                        f"For each {cp}, what is the {word} {_phrase(num)} of {n}?",
                        f"SELECT {ci}, {agg}({_ident(num)}) FROM {tb} GROUP BY {ci}",
                    )
                    for v in self.values(tb, c, 2):
                        agg, word = self.rng.choice(AGGS)
                        yield Candidate(
                            "agg_filter",
                            "medium",
                            f"What is the {word} {_phrase(num)} of {n} whose {cp} is {_lit(v)}?",
                            f"SELECT {agg}({_ident(num)}) FROM {tb} WHERE {ci} = {_lit(v)}",
                        )
                    if t.label and num in t.nums:
                        for v, x in zip(self.values(tb, c, 2), self.mid_values(tb, num, 2), strict=False):
                            yield Candidate(
                                "filter_and",
                                "medium",
                                f"List the {_phrase(t.label)} of {n} whose {cp} is {_lit(v)} and {_phrase(num)} is greater than {_lit(x)}.",
                                f"SELECT {_ident(t.label)} FROM {tb} WHERE {ci} = {_lit(v)} AND {_ident(num)} > {_lit(x)}",
                            )
            for num in t.nums + t.null_nums:
                np_, ni = _phrase(num), _ident(num)
                for agg, word in AGGS:
                    yield Candidate(
                        "agg",
                        "easy",
                        f"What is the {word} {np_} of all {n}?",
                        f"SELECT {agg}({ni}) FROM {tb}",
                    )
            if t.label:
                lp, li = _phrase(t.label), _ident(t.label)
                yield Candidate("project", "easy", f"List the {lp} of all {n}.", f"SELECT {li} FROM {tb}")
                others = t.cats + t.nums + t.null_nums + t.dates
                for o in others:
                    yield Candidate(
                        "project2",
                        "easy",
                        f"Show the {lp} and {_phrase(o)} of all {n}.",
                        f"SELECT {li}, {_ident(o)} FROM {tb}",
                    )
                for num in t.nums:
                    np_, ni = _phrase(num), _ident(num)
                    for x in self.mid_values(tb, num, 2):
                        yield Candidate(
                            "filter_gt",
                            "easy",
                            f"List the {lp} of {n} with {np_} greater than {_lit(x)}.",
                            f"SELECT {li} FROM {tb} WHERE {ni} > {_lit(x)}",
                        )
                    for x in self.mid_values(tb, num, 2):
                        yield Candidate(
                            "filter_lt",
                            "easy",
                            f"List the {lp} of {n} with {np_} less than {_lit(x)}.",
                            f"SELECT {li} FROM {tb} WHERE {ni} < {_lit(x)}",
                        )
                    yield Candidate(
                        "top1",
                        "medium",
                        f"What is the {lp} of the {s} with the highest {np_}?",
                        f"SELECT {li} FROM {tb} ORDER BY {ni} DESC LIMIT 1",
                    )
                    yield Candidate(
                        "top1",
                        "medium",
                        f"What is the {lp} of the {s} with the lowest {np_}?",
                        f"SELECT {li} FROM {tb} ORDER BY {ni} ASC LIMIT 1",
                    )
                    for k in (3, 5):
                        yield Candidate(
                            "topk",
                            "medium",
                            f"List the {lp} of the {k} {n} with the highest {np_}.",
                            f"SELECT {li} FROM {tb} ORDER BY {ni} DESC LIMIT {k}",
                        )
                    yield Candidate(
                        "order",
                        "medium",
                        f"List the {lp} of all {n} ordered by {np_} from lowest to highest.",
                        f"SELECT {li} FROM {tb} ORDER BY {ni} ASC",
                    )
                    yield Candidate(
                        "nested_avg",
                        "extra",
                        f"List the {lp} of {n} whose {np_} is above the average {np_}.",
                        f"SELECT {li} FROM {tb} WHERE {ni} > (SELECT AVG({ni}) FROM {tb})",
                    )
                for num in t.null_nums:
                    yield Candidate(
                        "nested_avg",
                        "extra",
                        f"List the {lp} of {n} whose {_phrase(num)} is above the average {_phrase(num)}.",
                        f"SELECT {li} FROM {tb} WHERE {_ident(num)} > (SELECT AVG({_ident(num)}) FROM {tb})",
                    )
                for d in t.dates:
                    dp, di = _phrase(d), _ident(d)
                    for x in self.mid_values(tb, d, 3):
                        yield Candidate(
                            "filter_date",
                            "medium",
                            f"List the {lp} of {n} with {dp} after {_lit(x)}.",
                            f"SELECT {li} FROM {tb} WHERE {di} > {_lit(x)}",
                        )
                    for x in self.mid_values(tb, d, 2):
                        yield Candidate(
                            "filter_date",
                            "medium",
                            f"List the {lp} of {n} with {dp} before {_lit(x)}.",
                            f"SELECT {li} FROM {tb} WHERE {di} < {_lit(x)}",
                        )
                    yield Candidate(
                        "top1",
                        "medium",
                        f"What is the {lp} of the {s} with the earliest {dp}?",
                        f"SELECT {li} FROM {tb} ORDER BY {di} ASC LIMIT 1",
                    )
                    yield Candidate(
                        "order",
                        "medium",
                        f"List the {lp} of all {n} ordered by {dp} from latest to earliest.",
                        f"SELECT {li} FROM {tb} ORDER BY {di} DESC",
                    )
                for c in t.nullable:
                    yield Candidate(
                        "is_null",
                        "easy",
                        f"List the {lp} of {n} with no {_phrase(c)} recorded.",
                        f"SELECT {li} FROM {tb} WHERE {_ident(c)} IS NULL",
                    )
            else:
                for d in t.dates:
                    for x in self.mid_values(tb, d, 2):
                        yield Candidate(
                            "count_filter",
                            "easy",
                            f"How many {n} have {_phrase(d)} after {_lit(x)}?",
                            f"SELECT COUNT(*) FROM {tb} WHERE {_ident(d)} > {_lit(x)}",
                        )
            for c in t.nullable:
                yield Candidate(
                    "is_null",
                    "easy",
                    f"How many {n} have no {_phrase(c)} recorded?",
                    f"SELECT COUNT(*) FROM {tb} WHERE {_ident(c)} IS NULL",
                )

    def joins(self) -> Iterator[Candidate]:
        for t in self.db.tables:
            for fk, parent_name in t.fks:
                p = self.db.meta(parent_name)
                if not p.label:
                    continue
                c_, pt = t.name, p.name
                on = f"{c_} JOIN {pt} ON {c_}.{fk} = {pt}.id"
                pl, pli = _phrase(p.label), f"{pt}.{_ident(p.label)}"
                # "department name" reads better than "department name" twice; labels like
                # customer_name already carry the entity noun.
                pdesc = pl if pl.startswith(p.singular) else f"{p.singular} {pl}"
                n = _plural(t)
                yield Candidate(
                    "join_group_count",
                    "hard",
                    f"For each {pdesc}, how many {n} are there?",
                    f"SELECT {pli}, COUNT(*) FROM {on} GROUP BY {pli}",
                )
                for k in (2, 3, 5):
                    yield Candidate(
                        "join_having",
                        "hard",
                        f"Which {pdesc} values have at least {k} {n}?",
                        f"SELECT {pli} FROM {on} GROUP BY {pli} HAVING COUNT(*) >= {k}",
                    )
                yield Candidate(
                    "join_top",
                    "extra",
                    f"Which {pdesc} has the most {n}?",
                    f"SELECT {pli} FROM {on} GROUP BY {pli} ORDER BY COUNT(*) DESC LIMIT 1",
                )
                for v in self.values(pt, p.label, 3):
                    yield Candidate(
                        "join_count",
                        "medium",
                        f"How many {n} have {pdesc} {_lit(v)}?",
                        f"SELECT COUNT(*) FROM {on} WHERE {pli} = {_lit(v)}",
                    )
                    if t.label:
                        yield Candidate(
                            "join_filter",
                            "medium",
                            f"List the {_phrase(t.label)} of {n} whose {pdesc} is {_lit(v)}.",
                            f"SELECT {c_}.{_ident(t.label)} FROM {on} WHERE {pli} = {_lit(v)}",
                        )
                for pc in p.cats:
                    for v in self.values(pt, pc, 2):
                        for num in t.nums + t.null_nums:
                            agg, word = self.rng.choice(AGGS)
                            yield Candidate(
                                "join_agg",
                                "hard",
                                f"What is the {word} {_phrase(num)} of {n} whose {p.singular} {_phrase(pc)} is {_lit(v)}?",
                                f"SELECT {agg}({c_}.{_ident(num)}) FROM {on} WHERE {pt}.{_ident(pc)} = {_lit(v)}",
                            )
                        if t.label:
                            yield Candidate(
                                "join_filter",
                                "medium",
                                f"List the {_phrase(t.label)} of {n} whose {p.singular} {_phrase(pc)} is {_lit(v)}.",
                                f"SELECT {c_}.{_ident(t.label)} FROM {on} WHERE {pt}.{_ident(pc)} = {_lit(v)}",
                            )
                if t.label:
                    yield Candidate(
                        "join_project",
                        "medium",
                        f"Show the {_phrase(t.label)} of each {t.singular} and the {pl} of its {p.singular}.",
                        f"SELECT {c_}.{_ident(t.label)}, {pli} FROM {on}",
                    )
                yield Candidate(
                    "nested_not_in",
                    "extra",
                    f"List the {pl} of {_plural(p)} that have no {n}.",
                    f"SELECT {_ident(p.label)} FROM {pt} WHERE id NOT IN (SELECT {fk} FROM {c_})",
                )
                for num in t.nums:
                    for x in self.mid_values(c_, num, 2):
                        yield Candidate(
                            "nested_in",
                            "extra",
                            f"List the {pl} of {_plural(p)} that have a {t.singular} with {_phrase(num)} greater than {_lit(x)}.",
                            f"SELECT {_ident(p.label)} FROM {pt} WHERE id IN (SELECT {fk} FROM {c_} WHERE {_ident(num)} > {_lit(x)})",
                        )
        for b in self.db.bridges:
            left, right = self.db.meta(b.left), self.db.meta(b.right)
            on = (
                f"{b.left} JOIN {b.junction} ON {b.left}.id = {b.junction}.{b.left_fk} "
                f"JOIN {b.right} ON {b.junction}.{b.right_fk} = {b.right}.id"
            )
            ll, rl = _phrase(left.label), _phrase(right.label)
            for v in self.values(b.right, right.label, 4):
                yield Candidate(
                    "join3",
                    "extra",
                    f"List the {ll} of {_plural(left)} {b.verb} the {right.singular} with {rl} {_lit(v)}.",
                    f"SELECT {b.left}.{_ident(left.label)} FROM {on} WHERE {b.right}.{_ident(right.label)} = {_lit(v)}",
                )


# --------------------------------------------------------------------------------------------------
# writing


def _write_sqlite(db: DemoDB, path: Path) -> sqlite3.Connection:
    """Build ``db`` in memory, write it to ``path`` with ``VACUUM INTO``; return the in-memory connection."""
    con = sqlite3.connect(":memory:")
    con.execute("PRAGMA page_size = 4096")
    con.executescript(db.ddl)
    for table, rows in db.rows.items():
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    con.commit()
    violations = con.execute("PRAGMA foreign_key_check").fetchall()
    assert not violations, f"{db.db_id}: foreign key violations {violations[:3]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con.execute("VACUUM INTO ?", (str(path),))
    # Offset 96 records which SQLite library last wrote the file; pin it so the bytes do not depend
    # on the Python build (the field is informational, SQLite never reads it back).
    with path.open("r+b") as fh:
        fh.seek(96)
        fh.write(struct.pack(">I", _HEADER_VERSION))
    return con


def _spider_entry(db_id: str, con: sqlite3.Connection) -> dict:
    """The Spider ``tables.json`` entry of a database, read from SQLite's own catalogue."""
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
    cols_orig: list[list] = [[-1, "*"]]
    cols_nat: list[list] = [[-1, "*"]]
    types = ["text"]
    pks: list[int] = []
    index: dict[tuple[str, str], int] = {}
    for ti, t in enumerate(tables):
        for _cid, name, ctype, _nn, _dflt, pk in con.execute(f"PRAGMA table_info({t})"):
            index[(t, name)] = len(cols_orig)
            if pk:
                pks.append(len(cols_orig))
            cols_orig.append([ti, name])
            cols_nat.append([ti, _phrase(name)])
            types.append("number" if ctype.upper() in ("INTEGER", "REAL") else "text")
    fks = []
    for t in tables:
        for row in con.execute(f"PRAGMA foreign_key_list({t})"):
            fks.append([index[(t, row[3])], index[(row[2], row[4])]])
    return {
        "column_names": cols_nat,
        "column_names_original": cols_orig,
        "column_types": types,
        "db_id": db_id,
        "foreign_keys": fks,
        "primary_keys": pks,
        "table_names": [_phrase(t) for t in tables],
        "table_names_original": tables,
    }


def _candidates(db: DemoDB, con: sqlite3.Connection, rng: random.Random) -> list[Candidate]:
    gen = _Gen(db, con, rng)
    kept, seen = [], set()
    for cand in itertools.chain(gen.single(), gen.joins()):
        if cand.query in seen or cand.question in seen:
            continue
        seen.update((cand.query, cand.question))
        if con.execute(cand.query).fetchall():
            kept.append(cand)
    return kept


def _split(records: list[tuple[str, Candidate]], rng: random.Random) -> tuple[list, list]:
    """Stratified by template: every template family appears in both splits."""
    by_template: dict[str, list] = {}
    for rec in records:
        by_template.setdefault(rec[1].template, []).append(rec)
    train, dev = [], []
    total = len(records)
    for name in sorted(by_template):
        group = by_template[name]
        rng.shuffle(group)
        n_dev = max(1, round(len(group) * N_DEV / total))
        n_train = max(1, round(len(group) * N_TRAIN / total))
        dev.extend(group[:n_dev])
        train.extend(group[n_dev : n_dev + n_train])
    rng.shuffle(train)
    rng.shuffle(dev)
    return train, dev


def _records(split: str, items: list[tuple[str, Candidate]]) -> list[dict]:
    return [
        {
            "id": f"demo_{split}_{i:04d}",
            "db_id": db_id,
            "question": c.question,
            "query": c.query,
            "difficulty": c.difficulty,
            "template": c.template,
        }
        for i, (db_id, c) in enumerate(items)
    ]


def _dump_json(obj, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def generate_demo(out_dir: str | Path | None = None, *, seed: int = DEMO_SEED) -> dict[str, int]:
    """Write the demo dataset to ``out_dir`` (default: the bundled folder) and return counts.

    Example::

        >>> import tempfile
        >>> counts = generate_demo(tempfile.mkdtemp())
        >>> counts["train"] >= 400 and counts["dev"] >= 100
        True
    """
    out = Path(out_dir) if out_dir is not None else demo_path()
    out.mkdir(parents=True, exist_ok=True)
    entries, records = [], []
    for builder in BUILDERS:
        rng = random.Random(f"{seed}:{builder.__name__}")
        db = builder(rng)
        con = _write_sqlite(db, out / "databases" / db.db_id / f"{db.db_id}.sqlite")
        try:
            entries.append(_spider_entry(db.db_id, con))
            records.extend((db.db_id, c) for c in _candidates(db, con, rng))
        finally:
            con.close()
    train, dev = _split(records, random.Random(f"{seed}:split"))
    _dump_json(entries, out / "tables.json")
    _dump_json(_records("train", train), out / "train.json")
    _dump_json(_records("dev", dev), out / "dev.json")
    return {"databases": len(entries), "candidates": len(records), "train": len(train), "dev": len(dev)}


if __name__ == "__main__":
    print(generate_demo())


def main(argv: list[str] | None = None) -> int:
    """``python tools/make_demo_data.py [--out DIR]``: regenerate the demo dataset."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="output folder (default: the bundled demo folder)")
    args = parser.parse_args(argv)
    counts = generate_demo(args.out)
    print(
        f"demo dataset in {args.out or demo_path()}: {counts['databases']} databases, "
        f"{counts['train']} train / {counts['dev']} dev examples"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
