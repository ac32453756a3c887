"""Who may read what: access tokens, integrators' grants to cycles, the access problems
(``tokens``). Which route asks for what is ``api/policy.py``'s. The rooms and the arrows
between them: docs/architecture.md."""
