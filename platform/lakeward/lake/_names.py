"""Small hand-written vocabularies for the synthetic lake generator.

Everything here was written for Lakeward's generator; none of it is real personal data.
Locations pair a real city with its region, country, a postal-code template and a phone
prefix so that generated addresses look plausible (``#`` stands for a random digit and
``@`` for a random upper-case letter in the templates).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ACCOUNT_CODES",
    "ADJECTIVES",
    "BRANDS",
    "CARRIERS",
    "CATEGORIES",
    "DEPARTMENTS",
    "DIAGNOSIS_CODES",
    "DRUGS",
    "EMAIL_DOMAINS",
    "FIRST_NAMES",
    "INSURERS",
    "JOB_TITLES",
    "LAB_TESTS",
    "LAST_NAMES",
    "LOCATIONS",
    "Location",
    "MATERIALS",
    "PRODUCT_NOUNS",
    "SEARCH_TERMS",
    "SPECIALTIES",
    "STREET_NAMES",
    "STREET_SUFFIXES",
    "SUPPLIER_SUFFIXES",
    "USER_AGENTS",
]

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy",
    "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra", "Donald", "Ashley",
    "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
    "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah",
    "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Laura", "Edward", "Sharon",
    "Jeffrey", "Cynthia", "Ryan", "Kathleen", "Jacob", "Amy", "Gary", "Angela",
    "Nicholas", "Anna", "Eric", "Brenda", "Jonathan", "Emma", "Priya", "Wei",
    "Mohammed", "Sofia", "Lukas", "Chloe", "Mateo", "Aisha", "Hiroshi", "Ingrid",
    "Olivia", "Noah", "Liam", "Amelia", "Lena", "Jonas", "Camille", "Hugo",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Patel", "Kim", "Chen", "Schmidt", "Mueller", "Fischer",
    "Weber", "Dubois", "Bernard", "Rossi", "Jansen", "de Vries", "O'Brien", "Murphy",
    "Kowalski", "Novak", "Tanaka", "Singh", "Okafor", "Larsen", "Johansson", "Fournier",
    "Bauer", "Wagner", "Cooper", "Reed", "Bailey", "Bell", "Murray", "Ward",
)

EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
    "proton.me", "gmx.de", "web.de", "orange.fr", "btinternet.com", "shaw.ca",
    "bigpond.com", "ziggo.nl", "comcast.net", "mail.com",
)

STREET_NAMES: tuple[str, ...] = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill",
    "Park", "Sunset", "Lincoln", "Jackson", "Church", "Willow", "Highland", "Meadow",
    "River", "Spring", "Chestnut", "Walnut", "Franklin", "Jefferson", "Madison",
    "Forest", "Ridge", "Valley", "Harbor", "Mill", "Bridge", "Orchard", "Prospect",
    "Broad", "Market", "Union", "Center", "Lakeview", "Railroad", "Summit", "Cherry",
    "Birch", "Dogwood", "Magnolia", "Hickory", "Sycamore", "Aspen", "Poplar", "Laurel",
)

STREET_SUFFIXES: tuple[str, ...] = (
    "St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way", "Pl", "Ter", "Pkwy", "Cir",
)


class Location(NamedTuple):
    """A city with its region, country, postal-code template and phone prefix."""

    city: str
    state: str
    country: str
    postal: str
    phone: str
    weight: float


LOCATIONS: tuple[Location, ...] = (
    Location("New York", "NY", "US", "100##", "+1-212", 9.0),
    Location("Brooklyn", "NY", "US", "112##", "+1-718", 5.0),
    Location("Los Angeles", "CA", "US", "900##", "+1-213", 8.0),
    Location("San Francisco", "CA", "US", "941##", "+1-415", 5.0),
    Location("San Diego", "CA", "US", "921##", "+1-619", 4.0),
    Location("San Jose", "CA", "US", "951##", "+1-408", 3.0),
    Location("Chicago", "IL", "US", "606##", "+1-312", 6.0),
    Location("Houston", "TX", "US", "770##", "+1-713", 5.0),
    Location("Dallas", "TX", "US", "752##", "+1-214", 4.0),
    Location("Austin", "TX", "US", "787##", "+1-512", 3.0),
    Location("Phoenix", "AZ", "US", "850##", "+1-602", 4.0),
    Location("Philadelphia", "PA", "US", "191##", "+1-215", 4.0),
    Location("Pittsburgh", "PA", "US", "152##", "+1-412", 2.0),
    Location("Seattle", "WA", "US", "981##", "+1-206", 4.0),
    Location("Portland", "OR", "US", "972##", "+1-503", 3.0),
    Location("Denver", "CO", "US", "802##", "+1-303", 3.0),
    Location("Boston", "MA", "US", "021##", "+1-617", 4.0),
    Location("Miami", "FL", "US", "331##", "+1-305", 3.0),
    Location("Orlando", "FL", "US", "328##", "+1-407", 2.0),
    Location("Atlanta", "GA", "US", "303##", "+1-404", 4.0),
    Location("Minneapolis", "MN", "US", "554##", "+1-612", 2.0),
    Location("Detroit", "MI", "US", "482##", "+1-313", 2.0),
    Location("Nashville", "TN", "US", "372##", "+1-615", 2.0),
    Location("Charlotte", "NC", "US", "282##", "+1-704", 2.0),
    Location("Columbus", "OH", "US", "432##", "+1-614", 2.0),
    Location("Las Vegas", "NV", "US", "891##", "+1-702", 2.0),
    Location("Salt Lake City", "UT", "US", "841##", "+1-801", 1.5),
    Location("Baltimore", "MD", "US", "212##", "+1-410", 1.5),
    Location("Toronto", "ON", "CA", "M#@ #@#", "+1-416", 3.0),
    Location("Vancouver", "BC", "CA", "V#@ #@#", "+1-604", 2.0),
    Location("Montreal", "QC", "CA", "H#@ #@#", "+1-514", 2.0),
    Location("Calgary", "AB", "CA", "T#@ #@#", "+1-403", 1.0),
    Location("London", "England", "GB", "@@# #@@", "+44-020", 4.0),
    Location("Manchester", "England", "GB", "M# #@@", "+44-161", 1.5),
    Location("Edinburgh", "Scotland", "GB", "EH# #@@", "+44-131", 1.0),
    Location("Berlin", "BE", "DE", "10###", "+49-030", 2.5),
    Location("Munich", "BY", "DE", "80###", "+49-089", 2.0),
    Location("Hamburg", "HH", "DE", "20###", "+49-040", 1.5),
    Location("Cologne", "NW", "DE", "50###", "+49-221", 1.0),
    Location("Frankfurt", "HE", "DE", "60###", "+49-069", 1.0),
    Location("Paris", "IDF", "FR", "750##", "+33-001", 2.5),
    Location("Lyon", "ARA", "FR", "690##", "+33-004", 1.0),
    Location("Marseille", "PAC", "FR", "130##", "+33-004", 1.0),
    Location("Amsterdam", "NH", "NL", "10## @@", "+31-020", 1.5),
    Location("Rotterdam", "ZH", "NL", "30## @@", "+31-010", 1.0),
    Location("Sydney", "NSW", "AU", "2###", "+61-002", 1.5),
    Location("Melbourne", "VIC", "AU", "3###", "+61-003", 1.5),
)

CATEGORIES: tuple[str, ...] = (
    "Electronics", "Home & Kitchen", "Outdoor", "Toys", "Beauty", "Grocery",
    "Office Supplies", "Sports", "Apparel", "Garden", "Pet Supplies", "Automotive",
)

ADJECTIVES: tuple[str, ...] = (
    "Ergonomic", "Compact", "Deluxe", "Classic", "Premium", "Portable", "Smart",
    "Rustic", "Modern", "Eco", "Heavy-Duty", "Lightweight", "Wireless", "Vintage",
)

MATERIALS: tuple[str, ...] = (
    "Steel", "Bamboo", "Cotton", "Leather", "Ceramic", "Aluminum", "Oak", "Glass",
    "Wool", "Silicone", "Carbon", "Linen",
)

PRODUCT_NOUNS: tuple[str, ...] = (
    "Chair", "Lamp", "Backpack", "Kettle", "Blender", "Headphones", "Mug", "Tent",
    "Jacket", "Keyboard", "Speaker", "Blanket", "Skillet", "Water Bottle", "Planter",
    "Desk", "Notebook", "Charger", "Helmet", "Dog Bed", "Sneakers", "Watch",
)

BRANDS: tuple[str, ...] = (
    "Northpeak", "Bluefin", "Hearthstone", "Kestrel", "Larkspur", "Solstice",
    "Ironwood", "Copperline", "Tidewater", "Brightfield", "Pinecrest", "Everglow",
)

SUPPLIER_SUFFIXES: tuple[str, ...] = (
    "Trading Co.", "Industries", "Supply Ltd", "Manufacturing", "Imports GmbH",
    "Wholesale Inc.", "Logistics LLC", "Group",
)

CARRIERS: tuple[str, ...] = ("UPS", "FedEx", "USPS", "DHL", "Royal Mail", "Canada Post")

DEPARTMENTS: tuple[str, ...] = (
    "Executive", "Finance", "Human Resources", "Legal", "Marketing", "Sales",
    "Customer Support", "Engineering", "Data Platform", "Security", "Procurement",
    "Logistics", "Store Operations", "Merchandising", "Facilities", "Quality Assurance",
    "Product Management", "Design", "Internal Audit", "Clinical Partnerships",
)

JOB_TITLES: tuple[str, ...] = (
    "Analyst", "Senior Analyst", "Manager", "Senior Manager", "Director",
    "Software Engineer", "Senior Software Engineer", "Data Engineer", "Accountant",
    "Store Associate", "Shift Lead", "Recruiter", "Buyer", "Support Specialist",
    "Designer", "Product Manager", "Counsel", "Coordinator", "Administrator",
)

DIAGNOSIS_CODES: tuple[str, ...] = (
    "E11.9", "E11.65", "E11.22", "I10", "J06.9", "J45.909", "M54.5", "K21.9", "F32.9",
    "F41.1", "E78.5", "N39.0", "R51.9", "Z00.00", "Z23", "J02.9", "H10.9", "L30.9",
    "M25.561", "R10.9", "G43.909", "E66.9", "I25.10", "J20.9", "S93.401A", "B34.9",
)

SPECIALTIES: tuple[str, ...] = (
    "Family Medicine", "Internal Medicine", "Pediatrics", "Cardiology", "Dermatology",
    "Endocrinology", "Orthopedics", "Psychiatry", "Neurology", "Emergency Medicine",
)

INSURERS: tuple[str, ...] = (
    "Blue Harbor Health", "Summit Mutual", "Evergreen Care", "Pioneer Assurance",
    "Crescent Health Plan", "Medicare", "Medicaid",
)

DRUGS: tuple[str, ...] = (
    "Metformin", "Lisinopril", "Atorvastatin", "Amlodipine", "Omeprazole", "Sertraline",
    "Levothyroxine", "Albuterol", "Amoxicillin", "Ibuprofen", "Gabapentin", "Losartan",
)

LAB_TESTS: tuple[tuple[str, str, str, float, float], ...] = (
    ("2345-7", "Glucose", "mg/dL", 70.0, 99.0),
    ("4548-4", "Hemoglobin A1c", "%", 4.0, 5.6),
    ("2093-3", "Total Cholesterol", "mg/dL", 125.0, 200.0),
    ("2085-9", "HDL Cholesterol", "mg/dL", 40.0, 80.0),
    ("718-7", "Hemoglobin", "g/dL", 12.0, 17.5),
    ("2160-0", "Creatinine", "mg/dL", 0.6, 1.3),
    ("6690-2", "White Blood Cell Count", "10^3/uL", 4.5, 11.0),
    ("3016-3", "TSH", "mIU/L", 0.4, 4.0),
)

SEARCH_TERMS: tuple[str, ...] = (
    "wireless headphones", "camping tent", "coffee mug", "standing desk", "dog bed",
    "running shoes", "rain jacket", "office chair", "phone charger", "water bottle",
    "yoga mat", "cast iron skillet", "led lamp", "bluetooth speaker", "winter gloves",
    "backpack", "garden hose", "kids toys", "face cream", "notebook",
)

ACCOUNT_CODES: tuple[tuple[str, str], ...] = (
    ("1000", "Cash"), ("1100", "Accounts Receivable"), ("1200", "Inventory"),
    ("2000", "Accounts Payable"), ("2100", "Accrued Liabilities"), ("4000", "Revenue"),
    ("4100", "Returns and Allowances"), ("5000", "Cost of Goods Sold"),
    ("6000", "Salaries and Wages"), ("6100", "Rent"), ("6200", "Utilities"),
    ("6300", "Marketing Expense"), ("6400", "Travel"), ("6500", "Software Subscriptions"),
)

USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)
