"""Offline plan: run the Pulumi program in-process under the mock engine and record every
resource it would register, then evaluate the policy pack on that record.

Only this package knows about mocks; the program (`__main__.py`) never does.
"""
