"""Build ``tests/reward_audit/cases.jsonl``: reward-audit cases over the bundled demo databases.

Run from the repository root::

    PYTHONPATH=src python tests/reward_audit/make_cases.py            # writes cases.jsonl
    PYTHONPATH=src python tests/reward_audit/make_cases.py --check    # only validates

Each gold below is written by hand with its equivalent rewrites (accepted by the Spider test-suite
evaluator: checked with ``execution_match``), a near miss (one value, operator or column wrong,
every clause of the gold kept), trivial queries (a clause of the gold dropped) and one real column
to misname. The other completions are derived mechanically: the misnamed column as an honest
attempt and double-quoted, an unknown table added to the gold and to the near miss, many unknown
names, two kinds of broken syntax, and no answer. Every case is validated against its database
before it is written; a case that does not behave as its kind says stops the build.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from sqlr1x.db.compare import execution_match
from sqlr1x.db.executor import SQLiteExecutor

HERE = Path(__file__).resolve().parent
DEMO_DBS = Path(__file__).resolve().parents[2] / "src" / "sqlr1x" / "data" / "demo" / "databases"
OUT = HERE / "cases.jsonl"
FAKE_TABLE = "archive_records"

# (db, question, gold, [(rewrite, sql)], near miss, [trivial...], (real column, invented name))
GOLDS: list[tuple[str, str, str, list[tuple[str, str]], str, list[str], tuple[str, str]]] = [
    # ---------------------------------------------------------------- company
    (
        "company",
        "Names of employees earning more than 80000.",
        "SELECT name FROM employees WHERE salary > 80000",
        [
            ("alias", "SELECT e.name FROM employees AS e WHERE e.salary > 80000"),
            ("reordered", "SELECT name FROM employees WHERE 80000 < salary"),
        ],
        "SELECT name FROM employees WHERE salary > 100000",
        ["SELECT name FROM employees"],
        ("name", "full_name"),
    ),
    (
        "company",
        "How many employees work in the Engineering department?",
        "SELECT count(*) FROM employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id"
        " WHERE T2.name = 'Engineering'",
        [
            (
                "comma_join",
                "SELECT count(*) FROM employees AS T1, departments AS T2"
                " WHERE T1.department_id = T2.id AND T2.name = 'Engineering'",
            ),
            (
                "derived",
                "SELECT count(*) FROM (SELECT T1.id FROM employees AS T1 JOIN departments AS T2"
                " ON T2.id = T1.department_id WHERE T2.name = 'Engineering')",
            ),
        ],
        "SELECT count(*) FROM employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id"
        " WHERE T2.name = 'Finance'",
        [
            "SELECT count(*) FROM employees",
            "SELECT count(*) FROM employees AS T1 JOIN departments AS T2 ON T1.department_id = T2.id",
        ],
        ("name", "dept_name"),
    ),
    (
        "company",
        "Average salary in each department, by department name.",
        "SELECT T2.name, avg(T1.salary) FROM employees AS T1 JOIN departments AS T2"
        " ON T1.department_id = T2.id GROUP BY T2.name",
        [
            (
                "cte",
                "WITH s AS (SELECT department_id, salary FROM employees) SELECT d.name, avg(s.salary)"
                " FROM s JOIN departments AS d ON s.department_id = d.id GROUP BY d.name",
            ),
            (
                "alias",
                "SELECT d.name, avg(e.salary) FROM employees e JOIN departments d ON d.id = e.department_id"
                " GROUP BY d.name",
            ),
        ],
        "SELECT T2.name, max(T1.salary) FROM employees AS T1 JOIN departments AS T2"
        " ON T1.department_id = T2.id GROUP BY T2.name",
        [
            "SELECT T2.name, avg(T1.salary) FROM employees AS T1 JOIN departments AS T2"
            " ON T1.department_id = T2.id",
            "SELECT avg(salary) FROM employees",
        ],
        ("salary", "wage"),
    ),
    (
        "company",
        "Who is the highest-paid employee?",
        "SELECT name FROM employees ORDER BY salary DESC LIMIT 1",
        [("alias", "SELECT e.name FROM employees e ORDER BY e.salary DESC LIMIT 1")],
        "SELECT name FROM employees ORDER BY salary ASC LIMIT 1",
        ["SELECT name FROM employees", "SELECT name FROM employees LIMIT 1"],
        ("salary", "pay"),
    ),
    (
        "company",
        "How many different titles do employees earning over 105000 have?",
        "SELECT count(DISTINCT title) FROM employees WHERE salary > 105000",
        [
            (
                "count_distinct",
                "SELECT count(*) FROM (SELECT DISTINCT title FROM employees WHERE salary > 105000"
                " AND title IS NOT NULL)",
            )
        ],
        "SELECT count(DISTINCT title) FROM employees WHERE salary > 115000",
        ["SELECT count(DISTINCT title) FROM employees"],
        ("title", "job_title"),
    ),
    (
        "company",
        "Active projects with a budget over 100000.",
        "SELECT project_name FROM projects WHERE budget > 100000 AND status = 'active'",
        [
            ("reordered", "SELECT project_name FROM projects WHERE status = 'active' AND budget > 100000"),
            (
                "alias",
                "SELECT p.project_name FROM projects AS p WHERE p.budget > 100000 AND p.status = 'active'",
            ),
        ],
        "SELECT project_name FROM projects WHERE budget > 100000 AND status = 'planned'",
        ["SELECT project_name FROM projects"],
        ("project_name", "proj_title"),
    ),
    (
        "company",
        "Employees assigned to a completed project.",
        "SELECT T1.name FROM employees AS T1 JOIN assignments AS T2 ON T1.id = T2.employee_id"
        " JOIN projects AS T3 ON T2.project_id = T3.id WHERE T3.status = 'completed'",
        [
            (
                "comma_join",
                "SELECT T1.name FROM employees AS T1, assignments AS T2, projects AS T3"
                " WHERE T1.id = T2.employee_id AND T2.project_id = T3.id AND T3.status = 'completed'",
            )
        ],
        "SELECT T1.name FROM employees AS T1 JOIN assignments AS T2 ON T1.id = T2.employee_id"
        " JOIN projects AS T3 ON T2.project_id = T3.id WHERE T3.status = 'planned'",
        [
            "SELECT name FROM employees",
            "SELECT T1.name FROM employees AS T1 JOIN assignments AS T2 ON T1.id = T2.employee_id"
            " JOIN projects AS T3 ON T2.project_id = T3.id",
        ],
        ("status", "state"),
    ),
    (
        "company",
        "Titles held by more than 5 employees, with their counts.",
        "SELECT title, count(*) FROM employees GROUP BY title HAVING count(*) > 5",
        [("alias", "SELECT e.title, count(e.id) FROM employees AS e GROUP BY e.title HAVING count(*) > 5")],
        "SELECT title, count(*) FROM employees GROUP BY title HAVING count(*) > 9",
        ["SELECT title, count(*) FROM employees GROUP BY title", "SELECT title FROM employees"],
        ("title", "position"),
    ),
    (
        "company",
        "Departments in Berlin, largest budget first.",
        "SELECT name FROM departments WHERE location = 'Berlin' ORDER BY budget DESC",
        [
            (
                "double_quoted_literal",
                'SELECT name FROM departments WHERE location = "Berlin" ORDER BY budget DESC',
            )
        ],
        "SELECT name FROM departments WHERE location = 'London' ORDER BY budget DESC",
        [
            "SELECT name FROM departments ORDER BY budget DESC",
            "SELECT name FROM departments WHERE location = 'Berlin'",
        ],
        ("location", "city"),
    ),
    (
        "company",
        "Employees hired since 2020.",
        "SELECT name FROM employees WHERE \"hire date\" >= '2020-01-01'",
        [("quoted_identifier", "SELECT name FROM employees WHERE `hire date` >= '2020-01-01'")],
        "SELECT name FROM employees WHERE \"hire date\" >= '2022-01-01'",
        ["SELECT name FROM employees"],
        ("name", "emp_name"),
    ),
    (
        "company",
        "Each manager's name and the number of people reporting to them.",
        "SELECT T2.name, count(*) FROM employees AS T1 JOIN employees AS T2 ON T1.manager_id = T2.id"
        " GROUP BY T2.id",
        [
            (
                "alias",
                "SELECT m.name, count(*) FROM employees AS e JOIN employees AS m ON e.manager_id = m.id"
                " GROUP BY m.id",
            )
        ],
        "SELECT T2.name, count(*) FROM employees AS T1 JOIN employees AS T2 ON T1.id = T2.manager_id"
        " GROUP BY T2.id",
        ["SELECT name, count(*) FROM employees"],
        ("name", "emp_name"),
    ),
    (
        "company",
        "Total hours per assignment role, most hours first.",
        "SELECT role, sum(hours) FROM assignments GROUP BY role ORDER BY sum(hours) DESC",
        [
            (
                "alias",
                "SELECT a.role, sum(a.hours) AS total FROM assignments AS a GROUP BY a.role ORDER BY total DESC",
            )
        ],
        "SELECT role, sum(hours) FROM assignments GROUP BY role ORDER BY sum(hours) ASC",
        ["SELECT role, sum(hours) FROM assignments GROUP BY role", "SELECT role, hours FROM assignments"],
        ("hours", "hours_worked"),
    ),
    # ---------------------------------------------------------------- clinic
    (
        "clinic",
        "Cardiologists with more than 10 years of experience.",
        "SELECT doctor_name FROM doctors WHERE specialty = 'cardiology' AND years_experience > 10",
        [
            (
                "reordered",
                "SELECT doctor_name FROM doctors WHERE 10 < years_experience AND specialty = 'cardiology'",
            ),
            (
                "alias",
                "SELECT d.doctor_name FROM doctors d WHERE d.specialty = 'cardiology' AND d.years_experience > 10",
            ),
        ],
        "SELECT doctor_name FROM doctors WHERE specialty = 'neurology' AND years_experience > 10",
        ["SELECT doctor_name FROM doctors"],
        ("doctor_name", "physician"),
    ),
    (
        "clinic",
        "Patients who had an appointment cancelled.",
        "SELECT DISTINCT T1.name FROM patients AS T1 JOIN appointments AS T2 ON T1.id = T2.patient_id"
        " WHERE T2.status = 'cancelled'",
        [
            (
                "comma_join",
                "SELECT DISTINCT T1.name FROM patients AS T1, appointments AS T2"
                " WHERE T2.status = 'cancelled' AND T1.id = T2.patient_id",
            )
        ],
        "SELECT DISTINCT T1.name FROM patients AS T1 JOIN appointments AS T2 ON T1.id = T2.patient_id"
        " WHERE T2.status = 'scheduled'",
        ["SELECT DISTINCT name FROM patients"],
        ("name", "patient_name"),
    ),
    (
        "clinic",
        "Total fees billed by each doctor.",
        "SELECT T1.doctor_name, sum(T2.fee) FROM doctors AS T1 JOIN appointments AS T2 ON T1.id = T2.doctor_id"
        " GROUP BY T1.id",
        [
            (
                "cte",
                "WITH f AS (SELECT doctor_id, sum(fee) AS total FROM appointments GROUP BY doctor_id)"
                " SELECT d.doctor_name, f.total FROM doctors AS d JOIN f ON d.id = f.doctor_id",
            ),
            (
                "alias",
                "SELECT d.doctor_name, sum(a.fee) FROM doctors d JOIN appointments a ON a.doctor_id = d.id"
                " GROUP BY d.id",
            ),
        ],
        "SELECT T1.doctor_name, max(T2.fee) FROM doctors AS T1 JOIN appointments AS T2 ON T1.id = T2.doctor_id"
        " GROUP BY T1.id",
        [
            "SELECT T1.doctor_name, sum(T2.fee) FROM doctors AS T1 JOIN appointments AS T2"
            " ON T1.id = T2.doctor_id",
            "SELECT doctor_name FROM doctors",
        ],
        ("fee", "price"),
    ),
    (
        "clinic",
        "Number of privately insured patients per city.",
        "SELECT city, count(*) FROM patients WHERE insurance = 'private' GROUP BY city",
        [
            (
                "alias",
                "SELECT p.city, count(*) FROM patients AS p WHERE p.insurance = 'private' GROUP BY p.city",
            )
        ],
        "SELECT city, count(*) FROM patients WHERE insurance = 'public' GROUP BY city",
        [
            "SELECT city, count(*) FROM patients GROUP BY city",
            "SELECT city, count(*) FROM patients WHERE insurance = 'private'",
        ],
        ("city", "town"),
    ),
    (
        "clinic",
        "The oldest patient.",
        "SELECT name FROM patients ORDER BY birth_year ASC LIMIT 1",
        [("alias", "SELECT p.name FROM patients p ORDER BY p.birth_year LIMIT 1")],
        "SELECT name FROM patients ORDER BY birth_year DESC LIMIT 1",
        ["SELECT name FROM patients"],
        ("birth_year", "born"),
    ),
    (
        "clinic",
        "Patients without insurance.",
        "SELECT name FROM patients WHERE insurance IS NULL",
        [("alias", "SELECT p.name FROM patients AS p WHERE p.insurance IS NULL")],
        "SELECT name FROM patients WHERE insurance IS NOT NULL",
        ["SELECT name FROM patients"],
        ("insurance", "coverage"),
    ),
    (
        "clinic",
        "Doctors with more than 9 appointments.",
        "SELECT T1.doctor_name FROM doctors AS T1 JOIN appointments AS T2 ON T1.id = T2.doctor_id"
        " GROUP BY T1.id HAVING count(*) > 9",
        [
            (
                "derived",
                "SELECT d.doctor_name FROM doctors AS d JOIN (SELECT doctor_id, count(*) AS n FROM appointments"
                " GROUP BY doctor_id) AS c ON c.doctor_id = d.id WHERE c.n > 9",
            )
        ],
        "SELECT T1.doctor_name FROM doctors AS T1 JOIN appointments AS T2 ON T1.id = T2.doctor_id"
        " GROUP BY T1.id HAVING count(*) > 30",
        [
            "SELECT T1.doctor_name FROM doctors AS T1 JOIN appointments AS T2 ON T1.id = T2.doctor_id"
            " GROUP BY T1.id",
            "SELECT doctor_name FROM doctors",
        ],
        ("doctor_name", "full_name"),
    ),
    (
        "clinic",
        "Average fee of completed appointments in 2024.",
        "SELECT avg(fee) FROM appointments WHERE status = 'completed' AND date LIKE '2024%'",
        [("reordered", "SELECT avg(fee) FROM appointments WHERE date LIKE '2024%' AND status = 'completed'")],
        "SELECT avg(fee) FROM appointments WHERE status = 'completed' AND date LIKE '2023%'",
        ["SELECT avg(fee) FROM appointments"],
        ("fee", "cost"),
    ),
    # ---------------------------------------------------------------- library
    (
        "library",
        "Fantasy books longer than 300 pages.",
        "SELECT title FROM books WHERE genre = 'fantasy' AND pages > 300",
        [("reordered", "SELECT title FROM books WHERE pages > 300 AND genre = 'fantasy'")],
        "SELECT title FROM books WHERE genre = 'poetry' AND pages > 300",
        ["SELECT title FROM books"],
        ("title", "book_title"),
    ),
    (
        "library",
        "Titles of books by French authors.",
        "SELECT T1.title FROM books AS T1 JOIN authors AS T2 ON T1.author_id = T2.id WHERE T2.country = 'France'",
        [
            (
                "comma_join",
                "SELECT T1.title FROM books AS T1, authors AS T2 WHERE T1.author_id = T2.id AND T2.country = 'France'",
            ),
            (
                "subquery",
                "SELECT title FROM books WHERE author_id IN (SELECT id FROM authors WHERE country = 'France')",
            ),
        ],
        "SELECT T1.title FROM books AS T1 JOIN authors AS T2 ON T1.author_id = T2.id WHERE T2.country = 'Japan'",
        ["SELECT title FROM books"],
        ("title", "book_title"),
    ),
    (
        "library",
        "The three genres with the most books.",
        "SELECT genre, count(*) FROM books GROUP BY genre ORDER BY count(*) DESC LIMIT 3",
        [("alias", "SELECT b.genre, count(*) AS n FROM books b GROUP BY b.genre ORDER BY n DESC LIMIT 3")],
        "SELECT genre, count(*) FROM books GROUP BY genre ORDER BY count(*) ASC LIMIT 3",
        ["SELECT genre, count(*) FROM books GROUP BY genre", "SELECT genre, count(*) FROM books"],
        ("genre", "category"),
    ),
    (
        "library",
        "Members with a loan that was never returned.",
        "SELECT DISTINCT T1.member_name FROM members AS T1 JOIN loans AS T2 ON T1.id = T2.member_id"
        " WHERE T2.return_date IS NULL",
        [
            (
                "comma_join",
                "SELECT DISTINCT m.member_name FROM members AS m, loans AS l"
                " WHERE l.return_date IS NULL AND m.id = l.member_id",
            )
        ],
        "SELECT DISTINCT T1.member_name FROM members AS T1 JOIN loans AS T2 ON T1.id = T2.member_id"
        " WHERE T2.return_date IS NOT NULL",
        ["SELECT member_name FROM members"],
        ("member_name", "member"),
    ),
    (
        "library",
        "Average page count per author country.",
        "SELECT T2.country, avg(T1.pages) FROM books AS T1 JOIN authors AS T2 ON T1.author_id = T2.id"
        " GROUP BY T2.country",
        [
            (
                "cte",
                "WITH b AS (SELECT author_id, pages FROM books) SELECT a.country, avg(b.pages)"
                " FROM b JOIN authors AS a ON a.id = b.author_id GROUP BY a.country",
            )
        ],
        "SELECT T2.country, avg(T1.pub_year) FROM books AS T1 JOIN authors AS T2 ON T1.author_id = T2.id"
        " GROUP BY T2.country",
        [
            "SELECT T2.country, avg(T1.pages) FROM books AS T1 JOIN authors AS T2 ON T1.author_id = T2.id",
            "SELECT avg(pages) FROM books",
        ],
        ("pages", "page_count"),
    ),
    (
        "library",
        "Books published between 1990 and 2010.",
        "SELECT title FROM books WHERE pub_year BETWEEN 1990 AND 2010",
        [("range", "SELECT title FROM books WHERE pub_year >= 1990 AND pub_year <= 2010")],
        "SELECT title FROM books WHERE pub_year BETWEEN 2000 AND 2010",
        ["SELECT title FROM books"],
        ("pub_year", "year_published"),
    ),
    (
        "library",
        "How many different members borrowed a book since 2024?",
        "SELECT count(DISTINCT member_id) FROM loans WHERE loan_date >= '2024-01-01'",
        [
            (
                "count_distinct",
                "SELECT count(*) FROM (SELECT DISTINCT member_id FROM loans WHERE loan_date >= '2024-01-01'"
                " AND member_id IS NOT NULL)",
            )
        ],
        "SELECT count(DISTINCT member_id) FROM loans WHERE loan_date >= '2024-09-01'",
        ["SELECT count(DISTINCT member_id) FROM loans"],
        ("member_id", "borrower_id"),
    ),
    (
        "library",
        "Books borrowed by members from Paris.",
        "SELECT DISTINCT T1.title FROM books AS T1 JOIN loans AS T2 ON T1.id = T2.book_id"
        " JOIN members AS T3 ON T2.member_id = T3.id WHERE T3.city = 'Paris'",
        [
            (
                "comma_join",
                "SELECT DISTINCT b.title FROM books b, loans l, members m"
                " WHERE b.id = l.book_id AND l.member_id = m.id AND m.city = 'Paris'",
            )
        ],
        "SELECT DISTINCT T1.title FROM books AS T1 JOIN loans AS T2 ON T1.id = T2.book_id"
        " JOIN members AS T3 ON T2.member_id = T3.id WHERE T3.city = 'Rome'",
        ["SELECT DISTINCT title FROM books"],
        ("city", "town"),
    ),
    # ---------------------------------------------------------------- retail
    (
        "retail",
        "Electronics products by price, most expensive first.",
        "SELECT name, price FROM products WHERE category = 'electronics' ORDER BY price DESC",
        [
            (
                "alias",
                "SELECT p.name, p.price FROM products AS p WHERE p.category = 'electronics' ORDER BY p.price DESC",
            )
        ],
        "SELECT name, price FROM products WHERE category = 'electronics' ORDER BY price ASC",
        [
            "SELECT name, price FROM products ORDER BY price DESC",
            "SELECT name, price FROM products WHERE category = 'electronics'",
        ],
        ("price", "cost"),
    ),
    (
        "retail",
        "Corporate customers in Berlin.",
        "SELECT customer_name FROM customers WHERE segment = 'corporate' AND city = 'Berlin'",
        [
            (
                "reordered",
                "SELECT customer_name FROM customers WHERE city = 'Berlin' AND segment = 'corporate'",
            )
        ],
        "SELECT customer_name FROM customers WHERE segment = 'corporate' AND city = 'Paris'",
        ["SELECT customer_name FROM customers"],
        ("customer_name", "client_name"),
    ),
    (
        "retail",
        "Total paid per payment method.",
        "SELECT method, sum(amount) FROM payments GROUP BY method",
        [("alias", "SELECT p.method, sum(p.amount) AS total FROM payments p GROUP BY p.method")],
        "SELECT method, avg(amount) FROM payments GROUP BY method",
        ["SELECT method, amount FROM payments"],
        ("amount", "total_paid"),
    ),
    (
        "retail",
        "Customers with more than two orders, and their order counts.",
        "SELECT T1.customer_name, count(*) FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id"
        " GROUP BY T1.id HAVING count(*) > 2",
        [
            (
                "alias",
                "SELECT c.customer_name, count(o.id) FROM orders AS o JOIN customers AS c ON o.customer_id = c.id"
                " GROUP BY c.id HAVING count(*) > 2",
            )
        ],
        "SELECT T1.customer_name, count(*) FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id"
        " GROUP BY T1.id HAVING count(*) > 4",
        [
            "SELECT T1.customer_name, count(*) FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id"
            " GROUP BY T1.id",
            "SELECT customer_name FROM customers",
        ],
        ("customer_name", "client"),
    ),
    (
        "retail",
        "Customers who never placed an order.",
        "SELECT customer_name FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)",
        [
            (
                "except",
                "SELECT customer_name FROM customers EXCEPT SELECT T1.customer_name FROM customers AS T1"
                " JOIN orders AS T2 ON T1.id = T2.customer_id",
            )
        ],
        "SELECT customer_name FROM customers WHERE id IN (SELECT customer_id FROM orders)",
        ["SELECT customer_name FROM customers"],
        ("customer_name", "client_name"),
    ),
    (
        "retail",
        "Total quantity of kitchen products ordered.",
        "SELECT sum(T2.quantity) FROM products AS T1 JOIN order_items AS T2 ON T1.id = T2.product_id"
        " WHERE T1.category = 'kitchen'",
        [
            (
                "derived",
                "SELECT sum(q) FROM (SELECT oi.quantity AS q FROM order_items AS oi JOIN products AS p"
                " ON p.id = oi.product_id WHERE p.category = 'kitchen')",
            )
        ],
        "SELECT sum(T2.quantity) FROM products AS T1 JOIN order_items AS T2 ON T1.id = T2.product_id"
        " WHERE T1.category = 'office'",
        ["SELECT sum(quantity) FROM order_items"],
        ("quantity", "qty"),
    ),
    (
        "retail",
        "The lowest price in each product category.",
        "SELECT category, min(price) FROM products GROUP BY category",
        [("alias", "SELECT p.category, min(p.price) FROM products AS p GROUP BY p.category")],
        "SELECT category, max(price) FROM products GROUP BY category",
        ["SELECT category, price FROM products"],
        ("price", "unit_price"),
    ),
    (
        "retail",
        "How many orders are pending?",
        "SELECT count(*) FROM orders WHERE status = 'pending'",
        [("double_quoted_literal", 'SELECT count(id) FROM orders WHERE status = "pending"')],
        "SELECT count(*) FROM orders WHERE status = 'delivered'",
        ["SELECT count(*) FROM orders"],
        ("status", "order_status"),
    ),
    # ---------------------------------------------------------------- school
    (
        "school",
        "Physics students with a GPA above 3.5.",
        "SELECT name FROM students WHERE major = 'Physics' AND gpa > 3.5",
        [
            ("reordered", "SELECT name FROM students WHERE gpa > 3.5 AND major = 'Physics'"),
            ("alias", "SELECT s.name FROM students AS s WHERE s.major = 'Physics' AND s.gpa > 3.5"),
        ],
        "SELECT name FROM students WHERE major = 'Physics' AND gpa < 3.5",
        ["SELECT name FROM students"],
        ("gpa", "grade_average"),
    ),
    (
        "school",
        "Courses taught by teachers of the Mathematics department.",
        "SELECT T1.title FROM courses AS T1 JOIN teachers AS T2 ON T1.teacher_id = T2.id"
        " WHERE T2.department = 'Mathematics'",
        [
            (
                "comma_join",
                "SELECT T1.title FROM courses AS T1, teachers AS T2"
                " WHERE T2.department = 'Mathematics' AND T1.teacher_id = T2.id",
            ),
            (
                "cte",
                "WITH m AS (SELECT id FROM teachers WHERE department = 'Mathematics')"
                " SELECT c.title FROM courses AS c JOIN m ON c.teacher_id = m.id",
            ),
        ],
        "SELECT T1.title FROM courses AS T1 JOIN teachers AS T2 ON T1.teacher_id = T2.id"
        " WHERE T2.department = 'History'",
        ["SELECT title FROM courses"],
        ("title", "course_title"),
    ),
    (
        "school",
        "Average grade per course.",
        "SELECT T2.title, avg(T1.grade) FROM enrollments AS T1 JOIN courses AS T2 ON T1.course_id = T2.id"
        " GROUP BY T2.id",
        [
            (
                "cte",
                "WITH g AS (SELECT course_id, avg(grade) AS average FROM enrollments GROUP BY course_id)"
                " SELECT c.title, g.average FROM courses AS c JOIN g ON g.course_id = c.id",
            )
        ],
        "SELECT T2.title, max(T1.grade) FROM enrollments AS T1 JOIN courses AS T2 ON T1.course_id = T2.id"
        " GROUP BY T2.id",
        [
            "SELECT T2.title, avg(T1.grade) FROM enrollments AS T1 JOIN courses AS T2 ON T1.course_id = T2.id",
            "SELECT avg(grade) FROM enrollments",
        ],
        ("grade", "mark"),
    ),
    (
        "school",
        "The three students with the highest GPA.",
        "SELECT name, gpa FROM students ORDER BY gpa DESC LIMIT 3",
        [("alias", "SELECT s.name, s.gpa FROM students AS s ORDER BY s.gpa DESC LIMIT 3")],
        "SELECT name, gpa FROM students ORDER BY gpa DESC LIMIT 5",
        ["SELECT name, gpa FROM students ORDER BY gpa DESC", "SELECT name, gpa FROM students LIMIT 3"],
        ("gpa", "score"),
    ),
    (
        "school",
        "Majors with more than eight students.",
        "SELECT major, count(*) FROM students GROUP BY major HAVING count(*) > 8",
        [("alias", "SELECT s.major, count(s.id) FROM students s GROUP BY s.major HAVING count(*) > 8")],
        "SELECT major, count(*) FROM students GROUP BY major HAVING count(*) > 30",
        ["SELECT major, count(*) FROM students GROUP BY major", "SELECT major FROM students"],
        ("major", "field"),
    ),
    (
        "school",
        "How many students were enrolled in Fall 2024?",
        "SELECT count(DISTINCT student_id) FROM enrollments WHERE semester = 'Fall 2024'",
        [
            (
                "count_distinct",
                "SELECT count(*) FROM (SELECT DISTINCT student_id FROM enrollments WHERE semester = 'Fall 2024'"
                " AND student_id IS NOT NULL)",
            )
        ],
        "SELECT count(DISTINCT student_id) FROM enrollments WHERE semester = 'Spring 2024'",
        ["SELECT count(DISTINCT student_id) FROM enrollments"],
        ("semester", "term"),
    ),
    (
        "school",
        "Students not enrolled in any course.",
        "SELECT name FROM students WHERE id NOT IN (SELECT student_id FROM enrollments)",
        [
            (
                "except",
                "SELECT name FROM students EXCEPT SELECT T1.name FROM students AS T1"
                " JOIN enrollments AS T2 ON T1.id = T2.student_id",
            )
        ],
        "SELECT name FROM students WHERE id IN (SELECT student_id FROM enrollments)",
        ["SELECT name FROM students"],
        ("name", "student_name"),
    ),
    (
        "school",
        "Advanced courses worth at least 4 credits.",
        "SELECT title, credits FROM courses WHERE level = 'advanced' AND credits >= 4",
        [("reordered", "SELECT title, credits FROM courses WHERE credits >= 4 AND level = 'advanced'")],
        "SELECT title, credits FROM courses WHERE level = 'advanced' AND credits > 4",
        ["SELECT title, credits FROM courses"],
        ("credits", "credit_points"),
    ),
    (
        "school",
        "Students who major in Physics or have a GPA above 3.8.",
        "SELECT name FROM students WHERE major = 'Physics' UNION SELECT name FROM students WHERE gpa > 3.8",
        [("or", "SELECT DISTINCT name FROM students WHERE major = 'Physics' OR gpa > 3.8")],
        "SELECT name FROM students WHERE major = 'Physics' INTERSECT SELECT name FROM students WHERE gpa > 3.8",
        ["SELECT name FROM students"],
        ("gpa", "grade_average"),
    ),
]

THINK = "The question asks: {q} I look at the tables of the {db} database and write one SQLite query."


def completion(question: str, db: str, sql: str) -> str:
    """A full model output in the SQL-R1 format."""
    think = THINK.format(q=question, db=db)
    return f"<think>\n{think}\n</think>\n<answer>\n```sql\n{sql}\n```\n</answer>"


def no_answer(question: str, db: str) -> str:
    return f"<think>\n{THINK.format(q=question, db=db)} I am not sure which table holds this.\n</think>"


def _misname(sql: str, real: str, new: str) -> str:
    out, n = re.subn(rf"(?<![\w\"'`.]){re.escape(real)}\b|(?<=\.){re.escape(real)}\b", new, sql, count=1)
    if n != 1:
        raise ValueError(f"column {real!r} not found in {sql!r}")
    return out


def _add_table(sql: str) -> str:
    m = re.search(r"\bFROM\s+(\w+)(\s+AS\s+\w+|\s+(?!WHERE|JOIN|GROUP|ORDER|LIMIT|UNION)\w+)?", sql, re.I)
    if m is None:
        raise ValueError(f"no FROM table in {sql!r}")
    return sql[: m.end()] + f", {FAKE_TABLE}" + sql[m.end() :]


def _many_unknown(sql: str, real: str) -> str:
    sql = _misname(sql, real, f"{real}_value")
    m = re.search(r"\bSELECT\s+(DISTINCT\s+)?", sql, re.I)
    assert m is not None
    return sql[: m.end()] + "record_code, entry_label, total_score, " + sql[m.end() :]


def build() -> list[dict]:
    cases = []
    for k, (db, question, gold, rewrites, near, trivials, (real, fake)) in enumerate(GOLDS, 1):
        honest = _misname(gold, real, fake)
        sqls: list[dict] = [{"id": "correct", "kind": "correct", "sql": gold}]
        sqls += [{"id": f"rewrite_{name}", "kind": "equivalent", "sql": s} for name, s in rewrites]
        sqls.append({"id": "near_miss", "kind": "near_miss", "sql": near})
        sqls += [{"id": f"trivial_{i}", "kind": "trivial", "sql": s} for i, s in enumerate(trivials, 1)]
        sqls += [
            {"id": "unknown_column", "kind": "hallucinated", "sql": honest},
            {
                "id": "quoted_unknown_column",
                "kind": "quoted_unknown",
                "sql": _misname(gold, real, f'"{fake}"'),
                "base": "unknown_column",
            },
            {"id": "many_unknown", "kind": "hallucinated", "sql": _many_unknown(gold, real)},
            {"id": "unknown_table", "kind": "unknown_table", "sql": _add_table(gold), "base": "correct"},
            {
                "id": "near_miss_unknown_table",
                "kind": "unknown_table",
                "sql": _add_table(near),
                "base": "near_miss",
            },
            {
                "id": "many_unknown_table",
                "kind": "unknown_table",
                "sql": _add_table(_many_unknown(gold, real)),
                "base": "many_unknown",
            },
            {"id": "broken_comma", "kind": "broken", "sql": re.sub(r"\s+FROM\b", ", FROM", gold, count=1)},
            {"id": "broken_truncated", "kind": "broken", "sql": gold + " WHERE ("},
        ]
        completions = [{**c, "completion": completion(question, db, c["sql"])} for c in sqls]
        completions.append(
            {"id": "no_answer", "kind": "no_answer", "sql": None, "completion": no_answer(question, db)}
        )
        cases.append(
            {
                "id": f"{db}_{k:02d}",
                "db_id": db,
                "question": question,
                "gold": gold,
                "completions": completions,
            }
        )
    return cases


def validate(cases: list[dict], db_root: Path) -> list[str]:
    """Problems with the cases: a completion that does not behave as its kind says on its database."""
    problems = []
    ex = SQLiteExecutor(timeout=10.0)
    for case in cases:
        db = str(db_root / case["db_id"] / f"{case['db_id']}.sqlite")
        gold = case["gold"]
        if not ex.execute(db, gold).ok or not ex.execute(db, gold).rows:
            problems.append(f"{case['id']}: gold fails or is empty")
        for c in case["completions"]:
            sql, kind = c["sql"], c["kind"]
            if sql is None:
                continue
            run = ex.execute(db, sql)
            where = f"{case['id']}/{c['id']}"
            if kind in ("correct", "equivalent"):
                if not execution_match(sql, gold, db, "spider", executor=ex):
                    problems.append(f"{where}: not equivalent to the gold: {sql}")
            elif kind in ("near_miss", "trivial"):
                if not run.ok:
                    problems.append(f"{where}: does not run ({run.error}): {sql}")
                elif execution_match(sql, gold, db, "spider", executor=ex):
                    problems.append(f"{where}: is correct, not a {kind}: {sql}")
            elif kind == "broken":
                if run.ok or run.error_kind != "syntax":
                    problems.append(f"{where}: is not a syntax error ({run.error_kind}): {sql}")
            elif execution_match(sql, gold, db, "spider", executor=ex):
                problems.append(f"{where}: matches the gold: {sql}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="validate only, do not write")
    args = parser.parse_args()
    cases = build()
    problems = validate(cases, DEMO_DBS)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    n = sum(len(c["completions"]) for c in cases)
    if not args.check:
        with OUT.open("w", encoding="utf-8") as f:
            for case in cases:
                f.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"{len(cases)} golds, {n} completions{'' if args.check else ' -> ' + str(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
