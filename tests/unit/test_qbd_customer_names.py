"""Customer Names in QuickBooks Desktop: Latin-1, at most 41 characters, one buyer one name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.ledgers.qbd.customer_names import customer_name, disambiguated_name
from connector.ledgers.qbd.qbxml_text import latin1_readable
from connector.model import Customer


def _buyer(first: str, last: str, email: str, store_id: str = "") -> Customer:
    return Customer(
        connection_id="c", store_id=store_id, email=email, first_name=first, last_name=last
    )


TARO = _buyer("太郎", "山田", "taro@example.jp")
HANAKO = _buyer("花子", "佐藤", "hanako@example.jp")


def test_latin1_readable_says_when_letters_were_lost() -> None:
    assert latin1_readable("山田 太郎") == ("", True)
    assert latin1_readable("José 山田") == ("José", True)
    assert latin1_readable("Łódź") == ("Lódz", False)  # transliterated, nothing lost
    assert latin1_readable("Ada \U0001f600 Lovelace") == ("Ada Lovelace", False)  # a symbol


def test_names_that_lose_their_letters_stay_apart_and_say_who_it_is() -> None:
    # Given two buyers whose names Latin-1 cannot write (both would be "?? ??")
    # When they are named for QuickBooks
    taro, hanako = customer_name(TARO), customer_name(HANAKO)
    # Then each is named by what tells them apart: their e-mail
    assert taro == "Customer (taro@example.jp)"
    assert hanako == "Customer (hanako@example.jp)"
    # And what Latin-1 can keep of a name is kept
    assert customer_name(_buyer("José", "山田", "jose@example.jp")) == "José (jose@example.jp)"


def test_a_name_latin1_can_write_is_used_as_is() -> None:
    ada = _buyer("Ada", "Lovelace", "Ada@Example.com")
    assert customer_name(ada) == "Ada Lovelace"
    assert customer_name(_buyer("Łukasz", "Żuk", "l@example.pl")) == "Lukasz Zuk"


def test_a_name_held_by_someone_else_gets_the_email_appended() -> None:
    # The README's rule: Ada Lovelace (ada@example.com)
    ada = _buyer("Ada", "Lovelace", "Ada@Example.com")
    assert disambiguated_name(ada) == "Ada Lovelace (ada@example.com)"
    # A name already carrying the e-mail adds what else tells the buyer apart
    assert disambiguated_name(_buyer("太郎", "山田", "taro@example.jp", "7")) == (
        "Customer (taro@example.jp #7)"
    )


def test_without_a_writable_email_the_store_customer_id_names_the_buyer() -> None:
    assert customer_name(_buyer("太郎", "山田", "山田@例え.jp", "1001")) == "Customer (#1001)"


def test_long_emails_are_cut_to_41_characters_and_still_differ() -> None:
    # Given two buyers whose long addresses begin alike
    one = _buyer("太郎", "山田", "a.very.long.email.address.of.taro@example.co.jp")
    two = _buyer("太郎", "山田", "a.very.long.email.address.of.hanako@example.co.jp")
    # When named
    names = [customer_name(one), customer_name(two)]
    # Then each fits in 41 characters, begins recognisably and differs from the other
    assert all(len(n) == 41 and n.startswith("Customer (a.very.long.email") for n in names)
    assert names[0] != names[1]


_TEXT = st.text(max_size=40)


@given(_TEXT, _TEXT, st.emails(), st.emails())
def test_names_fit_quickbooks_and_two_emails_never_share_a_lost_name(
    first: str, last: str, email: str, other: str
) -> None:
    buyer, someone = _buyer(first, last, email), _buyer(first, last, other)
    for name in (customer_name(buyer), disambiguated_name(buyer)):
        # Latin-1, no colon (it would make a job), at most 41 characters, never empty
        assert name and len(name) <= 41 and ":" not in name
        name.encode("latin-1")
    # The same buyer always gets the same name
    assert customer_name(buyer) == customer_name(_buyer(first, last, email))
    # Two buyers whose names lost letters are told apart by their e-mails
    if latin1_readable(f"{first} {last}")[1] and email.lower() != other.lower():
        assert customer_name(buyer) != customer_name(someone)
