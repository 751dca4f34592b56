"""Operator use cases (``/admin/*`` and the CLI): accounts with a sign-in password, credit.

Passwords are checked against the rules *before* the account is created, so a rejected password
never leaves a half-made account behind; hashing runs in a worker thread (argon2 is deliberately
slow and would otherwise stall the event loop).
"""

from __future__ import annotations

import asyncio

from opencompress.accounts import passwords
from opencompress.accounts.service import AccountService
from opencompress.errors import InvalidRequestError
from opencompress.money import check_credit_micros
from opencompress.storage.base import Account


class OperatorService:
    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts

    async def create_account(
        self,
        name: str,
        *,
        email: str | None = None,
        password: str | None = None,
        initial_credit_micros: int = 0,
        credit_reason: str = "initial credit",
    ) -> Account:
        """Create an account (duplicate email → 409) with an optional password and opening credit;
        returns it with its balance after the credit."""
        if password is not None:
            if not email:
                raise InvalidRequestError("a password needs an email to sign in with", param="email")
            passwords.check_password_rules(password)
        if initial_credit_micros < 0:
            raise InvalidRequestError("initial credit must not be negative", param="initial_credit")
        if initial_credit_micros > 0:  # checked now, so a refused credit leaves no account behind
            check_credit_micros(initial_credit_micros, param="initial_credit")
        password_hash = (
            None if password is None else await asyncio.to_thread(passwords.hash_password, password)
        )
        account = await self.accounts.create_account(name, email=email, password_hash=password_hash)
        if initial_credit_micros > 0:
            await self.accounts.credit_micros(account.id, initial_credit_micros, credit_reason)
            return await self.accounts.get_account(account.id)
        return account

    async def set_password(self, account_id: str, password: str) -> None:
        """Replace the password (the account needs an email to sign in); signs out all sessions."""
        account = await self.accounts.get_account(account_id)
        if not account.email:
            raise InvalidRequestError("set an email on the account before a password", param="email")
        password_hash = await asyncio.to_thread(passwords.hash_password, password)
        await self.accounts.storage.set_password_hash(account_id, password_hash)

    async def credit(self, account_id: str, amount_micros: int, reason: str = "credit") -> int:
        """Add credit (a ledger ``credit`` entry); returns the new balance in micro-dollars.

        An amount out of range is a 400 before any lookup; one that would take the balance above
        ``MAX_BALANCE_MICROS`` is refused by storage inside the crediting transaction."""
        check_credit_micros(amount_micros, param="amount")
        await self.accounts.get_account(account_id)
        return await self.accounts.credit_micros(account_id, amount_micros, reason)
