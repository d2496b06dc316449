"""Reference data of the demo org: picklists, names, cities, phone and street formats.

Pure: stdlib and numpy only. The tables are compact literals; the lookups derived from them
are built once at import.

Longer than 500 lines: reference data: compact literal tables and the lookups built from them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "ACCOUNT_TYPES",
    "BASE_COUNTS",
    "DUPLICATE_VARIATIONS",
    "INDUSTRIES",
    "LEAD_SOURCES",
    "LEAD_STATUSES",
    "OPPORTUNITY_STAGES",
    "OPPORTUNITY_TYPES",
    "RATINGS",
    "SALUTATIONS",
    "SEED",
]

SEED: Final = 20261127
BASE_COUNTS: Final[dict[str, int]] = {
    "users": 5,
    "accounts": 1000,
    "contacts": 5000,
    "leads": 2000,
    "opportunities": 1500,
}

# Salesforce's standard picklist values, in the order its describe lists them.
ACCOUNT_TYPES: Final = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)
# fmt: off
INDUSTRIES: Final = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
    "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering",
    "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government", "Healthcare",
    "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit", "Other",
    "Recreation", "Retail", "Shipping", "Technology", "Telecommunications", "Transportation",
    "Utilities",
)
# fmt: on
LEAD_SOURCES: Final = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES: Final = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
RATINGS: Final = ("Hot", "Warm", "Cold")
OPPORTUNITY_STAGES: Final[dict[str, int]] = {  # stage name: its default probability (%)
    "Prospecting": 10,
    "Qualification": 10,
    "Needs Analysis": 20,
    "Value Proposition": 50,
    "Id. Decision Makers": 60,
    "Perception Analysis": 70,
    "Proposal/Price Quote": 75,
    "Negotiation/Review": 90,
    "Closed Won": 100,
    "Closed Lost": 0,
}
OPPORTUNITY_TYPES: Final = (
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
)
SALUTATIONS: Final = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
# How a planted duplicate differs from its original; a label joins one or two with "+".
DUPLICATE_VARIATIONS: Final = (
    "case",  # "JOHN SMITH", email upper-cased (or the names lower-cased)
    "whitespace",  # leading, trailing or doubled spaces in a name or the email
    "accent",  # José -> Jose, Müller -> Muller, or the other way round
    "typo",  # one letter substituted, deleted or transposed, in one of the two names
    "nickname",  # William -> Bill, Katherine -> Kate
    "missing",  # email, phone or birthdate left empty
    "phone_format",  # the same digits with other separators
)


# --- reference data ----------------------------------------------------------------------------

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float64]
_Bools = npt.NDArray[np.bool_]
_Objs = npt.NDArray[np.object_]


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 1000


def _words(text: str) -> list[str]:
    return [w.replace("_", " ") for w in text.split()]


_MS_START: Final = _ms(2023, 1, 1)
_MS_RECORDS: Final = _MS_START + 3_600_000  # the users exist an hour before the first record
_MS_CREATED_END: Final = _ms(2026, 11, 1) - 1  # the last millisecond of 2026-10-31
_MS_MODIFIED_END: Final = _ms(2026, 11, 1)
_MS_RECENT: Final = _ms(2025, 11, 1)  # open opportunities were opened after this
_DAY_MS: Final = 86_400_000
_EPOCH_DAY: Final = date(1970, 1, 1).toordinal()
_YEAR_MS: Final = 31_556_952_000  # a mean Gregorian year
_BIRTH_DAYS: Final = (
    (date(1950, 1, 1) - date(1970, 1, 1)).days,
    (date(2005, 1, 1) - date(1970, 1, 1)).days,
)
_OWNER_WEIGHTS: Final = (30, 25, 20, 15, 10)  # user 4 has left: a former rep's book remains

# fmt: off
# The reference tables below keep one row per line, so the formatter leaves them alone.

# Names per culture, roughly by popularity ("_" stands for a space inside a name).
_NAME_DATA: Final = {
    "en": (
        "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel "
        "Matthew Anthony Mark Steven Paul Andrew Joshua Kevin Brian George Timothy Edward Jason "
        "Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Justin Scott Brandon Benjamin "
        "Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Tyler Aaron Adam Nathan Henry "
        "Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy Christian Keith Roger Sean Austin "
        "Carl Arthur Lawrence Dylan Jesse Jordan Bryan Gabriel Logan Albert Alan Wayne Elijah "
        "Vincent Ralph Russell Mason Philip Louis Oliver Harry Oscar Leo Archie Hugh Rupert Nigel "
        "Graham Ian Colin",
        "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy "
        "Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah "
        "Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Anna Brenda Pamela Emma Nicole "
        "Helen Samantha Katherine Christine Rachel Carolyn Janet Catherine Maria Heather Diane "
        "Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith Megan "
        "Andrea Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison Frances Kathryn Jean "
        "Abigail Alice Judy Sophia Grace Denise Amber Danielle Isabella Diana Natalie Charlotte "
        "Marie Alexandra Zoë Mary_Ann Amelia Isla Imogen Harriet Fiona Gemma Siân Chloe",
        "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Moore Jackson "
        "Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright "
        "Scott Hill Green Adams Nelson Baker Hall Campbell Mitchell Carter Roberts Phillips Evans "
        "Turner Parker Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson "
        "Bailey Reed Kelly Howard Cox Ward Richardson Watson Brooks Wood James Bennett Gray Hughes "
        "Price Sanders Myers Long Ross Foster Powell Jenkins Perry Russell Sullivan Bell Coleman "
        "Butler Henderson Barnes Fisher Simmons Graham Marshall Owens Harrison Gibson Wallace "
        "Hamilton Ellis Davies Lloyd-Williams Smith-Jones MacDonald McLaughlin Thomson Fraser "
        "Robertson Ferguson Llewellyn Ashworth Whitfield St._John",
    ),
    "ga": (
        "Seán Ciarán Pádraig Oisín Liam Conor Cian Declan Eoin Darragh Cillian Niall Ronan Éamon "
        "Dónal Fionn Patrick Michael",
        "Siobhán Aoife Niamh Saoirse Róisín Caoimhe Orla Sinéad Aisling Clodagh Gráinne Máire "
        "Éabha Ciara Méabh Mary",
        "Murphy Kelly O'Brien O'Connor O'Neill O'Sullivan McCarthy Byrne Ryan Walsh Doyle Kavanagh "
        "O'Reilly Fitzpatrick Kennedy Lynch Quinn Gallagher Brennan McGrath Keane Daly Dunne Nolan "
        "Fitzgerald Ó_Súilleabháin Mac_Giolla_Phádraig",
    ),
    "fr": (
        "Jean Pierre Michel Philippe Nicolas François Thomas Jean-Luc Julien Antoine Olivier "
        "Sébastien Laurent Luc Mathieu Jérôme Théo Étienne Hugo Benoît Guillaume Alexandre Maxime "
        "Romain Quentin Clément Cédric Loïc Gaël Rémi Hervé Thierry",
        "Marie Sophie Camille Chloé Léa Amélie Élodie Céline Hélène Mélanie Océane Margaux Anaïs "
        "Françoise Inès Marion Isabelle Nathalie Sandrine Valérie Aurélie Émilie Anne-Marie "
        "Marie-Claire Juliette Manon Clémence Noémie Maëlle Geneviève",
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefèvre Michel Garnier Faure Rousseau Blanc Guérin Bonnet Dupont Lambert Fontaine "
        "Chevalier Girard André Mercier Dufour Gauthier Perrin Morel Fournier Lemaître Noël d'Arcy "
        "Le_Goff Saint-Pierre Tremblay Gagnon Côté Bouchard Pelletier",
    ),
    "de": (
        "Thomas Michael Andreas Stefan Christian Jürgen Klaus Matthias Jörg Uwe Günter Dieter "
        "Florian Tobias Lukas Maximilian Felix Fabian Sören Hans-Peter Wolfgang Frank Markus "
        "Sebastian Jan Niklas Jonas Björn Karl-Heinz Johannes Friedrich",
        "Anna Katharina Lena Sabine Birgit Ursula Jutta Claudia Petra Monika Andrea Julia Laura "
        "Sarah Lea Mia Leonie Marlene Käthe Anja Susanne Stefanie Franziska Annegret Jana Antje "
        "Heike Jördis Hannelore",
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
        "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann "
        "Hartmann Lange Schmitt Werner Krause Meier Lehmann Köhler Weiß Groß Jäger Böhm Fuchs "
        "Vogel Keller Huber Brunner Gerber von_Berg Müller-Lüdenscheidt Schmidt-Wagner Baumgärtner "
        "Fröhlich",
    ),
    "es": (
        "José Antonio Manuel Francisco Juan David Javier Daniel Carlos Jesús Alejandro Miguel "
        "Rafael Pedro Pablo Ángel Sergio Fernando Jorge Luis Alberto Álvaro Andrés Raúl Rubén "
        "Iñaki Íñigo Joaquín Diego Santiago Mateo Emilio Ramón Guillermo",
        "María Carmen Ana Isabel Laura Lucía Sofía Cristina Marta Pilar Paula Elena Sara Raquel "
        "Rocío Inés Mercedes Paloma Begoña Nuria Beatriz Patricia Silvia Alba Claudia María_José "
        "Ana_Belén Guadalupe Ximena Valeria",
        "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín Jiménez "
        "Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez "
        "Vázquez Ramos Gil Ramírez Serrano Blanco Molina Morales Suárez Ortega Delgado Castro "
        "Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido Cortés Castillo Santos Guerrero "
        "Méndez Cruz Peña Flores Reyes Vargas García-López Fernández-Ruiz Martín-Sánchez Garcia "
        "Sanchez Lopez Rodriguez Hernandez Gonzalez Perez Martinez",
    ),
    "it": (
        "Giuseppe Giovanni Marco Luca Matteo Lorenzo Alessandro Davide Francesco Antonio Andrea "
        "Stefano Roberto Paolo Simone Niccolò Federico Riccardo Gabriele Tommaso Emanuele "
        "Salvatore Vincenzo Fabio Massimo",
        "Giulia Francesca Chiara Alessia Federica Martina Giorgia Elisa Sofia Aurora Alice "
        "Valentina Sara Elena Silvia Paola Laura Roberta Ilaria Beatrice Lucrezia Annalisa Rosa "
        "Simona",
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
        "De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti D'Angelo Fabbri Caruso Barbieri "
        "Fontana Santoro Mariani Rinaldi Ferrara Galli Martinelli Leone Longo Gentile De_Santis",
    ),
    "nl": (
        "Jan Pieter Jeroen Daan Sander Bram Thijs Ruben Lars Stijn Koen Joost Bas Wouter Sem Niels "
        "Maarten Tim Rutger Willem",
        "Femke Sanne Anouk Lotte Fleur Emma Julia Sophie Lisa Eva Iris Anna Marieke Esther Ingrid "
        "Mirjam Floor Noor Tess Maud",
        "de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer de_Boer "
        "Mulder de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker Brouwer de_Wit Dijkstra Smits "
        "de_Graaf van_der_Meer van_der_Linden Kok Jacobs de_Haan Vermeulen",
    ),
    "sv": (
        "Lars Anders Johan Erik Per Karl Mikael Björn Sven Magnus Fredrik Nils Gustav Oskar Axel "
        "Henrik Jonas Ola Mattias Jörgen Søren Rasmus Bjørn Jens Kristian Åke",
        "Anna Eva Maria Karin Sara Kristina Lena Emma Ingrid Astrid Linnéa Maja Elin Sofia Frida "
        "Åsa Malin Annika Ebba Sigrid Ingeborg Kirsten Mette Solveig",
        "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson "
        "Pettersson Jönsson Hansen Jensen Nielsen Pedersen Sørensen Ødegaard Bjørnstad Åberg "
        "Lindström Sjöberg Öberg Lindqvist Berglund Holm Dahl Lund Nyström Bergström",
    ),
    "pl": (
        "Piotr Krzysztof Andrzej Tomasz Paweł Michał Marcin Jakub Łukasz Wojciech Marek Grzegorz "
        "Mateusz Adam Kamil Maciej Rafał Dariusz Bartosz Aleksander Stanisław Jarosław",
        "Anna Katarzyna Maria Małgorzata Agnieszka Barbara Ewa Krystyna Magdalena Joanna "
        "Aleksandra Zofia Monika Dorota Beata Justyna Natalia Karolina Paulina Weronika Agata "
        "Iwona",
        "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański "
        "Woźniak Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski "
        "Nowakowski Pawłowski Michalski Nowicki Adamczyk Dudek Zając Wieczorek Jabłoński Król "
        "Majewski Olszewski",
    ),
    "intl": (
        "Mohammed Ahmed Omar Ali Hassan Yusuf Ibrahim Mehmet Emre Mustafa Arjun Rahul Vikram Raj "
        "Sanjay Amit Wei Jun Hao Lei Hiroshi Kenji Takeshi Min-jun Ji-ho Dmitri Sergei Nikolai "
        "Ivan Andrei Thiago João Gonçalo Rafael Bruno Leonardo Kwame Chinedu Oluwaseun Tendai Kofi "
        "Tariq Karim Yosef Avi Minh Duc",
        "Fatima Aisha Leila Yasmin Zeynep Elif Priya Ananya Deepika Sunita Mei Xiu Na Yuki Aiko "
        "Hana Seo-yeon Ji-woo Olga Natalia Svetlana Anastasia Tatiana Camila Gabriela Isabela "
        "Luísa Beatriz Mariana Ngozi Amara Chiamaka Abena Zanele Noa Tamar Linh Thu",
        "Nguyen Tran Le Pham Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Kumar Singh Sharma "
        "Gupta Patel Shah Khan Ahmed Ali Hussain Rahman Yılmaz Kaya Demir Şahin Çelik Öztürk "
        "Tanaka Suzuki Watanabe Sato Takahashi Park Choi Jung Kang Ivanov Petrov Smirnov Kuznetsov "
        "Popov Silva Santos Oliveira Souza Pereira Ferreira Almeida Gonçalves Carvalho Okafor "
        "Adeyemi Mensah Nkosi Okonkwo Dlamini Cohen Levi Mizrahi",
    ),
}
# Formal first name > the short form people also go by (the formal ones are listed above).
_NICKNAMES: Final = dict(pair.split(">") for pair in _words(
    "William>Bill Robert>Bob Elizabeth>Liz Katherine>Kate Alexander>Alex Margaret>Peggy James>Jim "
    "Michael>Mike Thomas>Tom Joseph>Joe Charles>Charlie Christopher>Chris Daniel>Dan Matthew>Matt "
    "Anthony>Tony Andrew>Andy Joshua>Josh Nicholas>Nick Benjamin>Ben Samuel>Sam Edward>Ted "
    "Steven>Steve Timothy>Tim Jonathan>Jon Patrick>Pat Gregory>Greg Peter>Pete Richard>Rick "
    "Jacob>Jake Zachary>Zach Raymond>Ray Lawrence>Larry Jennifer>Jen Jessica>Jess Rebecca>Becky "
    "Susan>Sue Deborah>Debbie Patricia>Patty Victoria>Vicky Abigail>Abby Samantha>Sam "
    "Christine>Chris Kimberly>Kim Catherine>Cathy Dorothy>Dot Alexandra>Alex Francisco>Paco "
    "José>Pepe Giuseppe>Beppe Johannes>Hannes Małgorzata>Gosia Katarzyna>Kasia Aleksander>Olek "
    "Manuel>Manolo Guillermo>Memo Dmitri>Dima"
))
# Different people who share a very common name: near-collisions that are not duplicates.
_COMMON_NAMES: Final = (
    ("John", "Smith", False), ("Maria", "Garcia", True), ("David", "Miller", False),
    ("James", "Brown", False), ("Anna", "Müller", True), ("Mohammed", "Khan", False),
    ("Wei", "Zhang", False), ("Sarah", "Johnson", True), ("Michael", "Jones", False),
    ("Laura", "Martin", True),
)

# code: name, web TLD, street style, name cultures:weight, free mail hosts:weight, legal forms
_COUNTRY_DATA: Final = {
    "US": ("United States", "com", "en", "en:70 es:12 intl:18",
           "gmail.com:50 yahoo.com outlook.com hotmail.com icloud.com aol.com", "Inc. LLC Corp."),
    "CA": ("Canada", "ca", "en", "en:60 fr:25 intl:15",
           "gmail.com:50 hotmail.com outlook.com rogers.com shaw.ca sympatico.ca", "Inc. Ltd."),
    "GB": ("United Kingdom", "co.uk", "en", "en:80 ga:5 intl:15",
           "gmail.com:40 hotmail.co.uk yahoo.co.uk btinternet.com outlook.com", "Ltd PLC LLP"),
    "IE": ("Ireland", "ie", "en", "ga:50 en:40 intl:10",
           "gmail.com:50 eircom.net hotmail.com outlook.com", "Ltd DAC"),
    "FR": ("France", "fr", "fr", "fr:85 intl:15",
           "gmail.com:40 orange.fr free.fr laposte.net hotmail.fr", "SA SAS SARL"),
    "DE": ("Germany", "de", "de", "de:85 intl:15",
           "gmail.com:30 gmx.de:20 web.de:20 t-online.de", "GmbH AG KG"),
    "CH": ("Switzerland", "ch", "de", "de:55 fr:25 it:10 intl:10",
           "gmail.com:40 bluewin.ch:30 gmx.ch", "AG SA GmbH"),
    "ES": ("Spain", "es", "es", "es:88 intl:12",
           "gmail.com:50 hotmail.es yahoo.es telefonica.net", "S.L. S.A."),
    "IT": ("Italy", "it", "it", "it:88 intl:12",
           "gmail.com:40 libero.it virgilio.it alice.it", "S.p.A. S.r.l."),
    "NL": ("Netherlands", "nl", "nl", "nl:85 intl:15",
           "gmail.com:40 ziggo.nl kpnmail.nl hotmail.nl", "B.V. N.V."),
    "SE": ("Sweden", "se", "sv", "sv:85 intl:15", "gmail.com:40 telia.com hotmail.se", "AB"),
    "PL": ("Poland", "pl", "pl", "pl:90 intl:10",
           "gmail.com:40 wp.pl onet.pl o2.pl interia.pl", "Sp._z_o.o. S.A."),
    "AU": ("Australia", "com.au", "en", "en:80 intl:20",
           "gmail.com:50 bigpond.com outlook.com optusnet.com.au", "Pty_Ltd Ltd"),
    "MX": ("Mexico", "com.mx", "es", "es:92 en:8",
           "gmail.com:50 hotmail.com prodigy.net.mx yahoo.com.mx", "S.A._de_C.V."),
}
_COUNTRY_WEIGHTS: Final = (35, 6, 10, 3, 8, 9, 3, 5, 4, 4, 3, 3, 5, 2)  # in _COUNTRY_DATA order

# Cities, biggest first: name/region/postal code (# a digit, @ a letter)/area code[/street style]
_CITY_DATA: Final = {
    "US": "New York/NY/100##/212; Los Angeles/CA/900##/213; Chicago/IL/606##/312; "
          "Houston/TX/770##/713; Phoenix/AZ/850##/602; Philadelphia/PA/191##/215; "
          "San Antonio/TX/782##/210; San Diego/CA/921##/619; Dallas/TX/752##/214; "
          "Austin/TX/787##/512; San Jose/CA/951##/408; San Francisco/CA/941##/415; "
          "Seattle/WA/981##/206; Denver/CO/802##/303; Boston/MA/021##/617; Nashville/TN/372##/615; "
          "Portland/OR/972##/503; Atlanta/GA/303##/404; Miami/FL/331##/305; "
          "Minneapolis/MN/554##/612; Detroit/MI/482##/313; Charlotte/NC/282##/704; "
          "Columbus/OH/432##/614; Indianapolis/IN/462##/317; Salt Lake City/UT/841##/801; "
          "Raleigh/NC/276##/919; Kansas City/MO/641##/816; Pittsburgh/PA/152##/412; "
          "St. Louis/MO/631##/314; Albuquerque/NM/871##/505; Honolulu/HI/968##/808; "
          "New Orleans/LA/701##/504",
    "CA": "Toronto/ON/M#@ #@#/416; Montréal/QC/H#@ #@#/514/fr; Vancouver/BC/V#@ #@#/604; "
          "Calgary/AB/T#@ #@#/403; Ottawa/ON/K#@ #@#/613; Edmonton/AB/T#@ #@#/780; "
          "Québec/QC/G#@ #@#/418/fr; Winnipeg/MB/R#@ #@#/204; Halifax/NS/B#@ #@#/902",
    "GB": "London/Greater London/EC#@ #@@/20; Manchester/Greater Manchester/M## #@@/161; "
          "Birmingham/West Midlands/B## #@@/121; Leeds/West Yorkshire/LS## #@@/113; "
          "Glasgow/Scotland/G## #@@/141; Edinburgh/Scotland/EH## #@@/131; "
          "Bristol/Bristol/BS## #@@/117; Liverpool/Merseyside/L## #@@/151; "
          "Cardiff/Wales/CF## #@@/29; Belfast/Northern Ireland/BT## #@@/28; "
          "Cambridge/Cambridgeshire/CB# #@@/1223; Oxford/Oxfordshire/OX# #@@/1865",
    "IE": "Dublin/Co. Dublin/D0# @#@#/1; Cork/Co. Cork/T12 @#@#/21; "
          "Galway/Co. Galway/H91 @#@#/91; Limerick/Co. Limerick/V94 @#@#/61",
    "FR": "Paris/Île-de-France/750##/1; Lyon/Auvergne-Rhône-Alpes/6900#/4; "
          "Marseille/Provence-Alpes-Côte d'Azur/130##/4; Toulouse/Occitanie/310##/5; "
          "Bordeaux/Nouvelle-Aquitaine/330##/5; Lille/Hauts-de-France/590##/3; "
          "Nantes/Pays de la Loire/440##/2; Strasbourg/Grand Est/670##/3; "
          "Nice/Provence-Alpes-Côte d'Azur/060##/4",
    "DE": "Berlin/Berlin/10###/30; Hamburg/Hamburg/20###/40; München/Bayern/80###/89; "
          "Köln/Nordrhein-Westfalen/50###/221; Frankfurt am Main/Hessen/60###/69; "
          "Stuttgart/Baden-Württemberg/70###/711; Düsseldorf/Nordrhein-Westfalen/40###/211; "
          "Leipzig/Sachsen/04###/341; Dresden/Sachsen/01###/351; Nürnberg/Bayern/90###/911",
    "CH": "Zürich/ZH/80##/44; Genève/GE/12##/22/fr; Basel/BS/40##/61; Bern/BE/30##/31; "
          "Lausanne/VD/10##/21/fr",
    "ES": "Madrid/Madrid/280##/91; Barcelona/Cataluña/080##/93; "
          "Valencia/Comunidad Valenciana/460##/96; Sevilla/Andalucía/410##/95; "
          "Bilbao/País Vasco/480##/94; Málaga/Andalucía/290##/95",
    "IT": "Roma/RM/001##/06; Milano/MI/201##/02; Torino/TO/101##/011; Napoli/NA/801##/081; "
          "Firenze/FI/501##/055; Bologna/BO/401##/051",
    "NL": "Amsterdam/Noord-Holland/10## @@/20; Rotterdam/Zuid-Holland/30## @@/10; "
          "Den Haag/Zuid-Holland/25## @@/70; Utrecht/Utrecht/35## @@/30; "
          "Eindhoven/Noord-Brabant/56## @@/40",
    "SE": "Stockholm/Stockholms län/1## ##/8; Göteborg/Västra Götalands län/4## ##/31; "
          "Malmö/Skåne län/2## ##/40; Uppsala/Uppsala län/75# ##/18",
    "PL": "Warszawa/Mazowieckie/0#-###/22; Kraków/Małopolskie/3#-###/12; "
          "Wrocław/Dolnośląskie/5#-###/71; Gdańsk/Pomorskie/80-###/58; "
          "Poznań/Wielkopolskie/6#-###/61",
    "AU": "Sydney/NSW/20##/2; Melbourne/VIC/30##/3; Brisbane/QLD/40##/7; Perth/WA/60##/8; "
          "Adelaide/SA/50##/8; Canberra/ACT/26##/2; Hobart/TAS/70##/3",
    "MX": "Ciudad de México/CDMX/06###/55; Guadalajara/Jalisco/44###/33; "
          "Monterrey/Nuevo León/64###/81; Puebla/Puebla/72###/222",
}

# Phone numbers as people type them: A is the area code (or mobile prefix), N a subscriber
# digit. Landlines: "area length=subscriber digits: formats"; mobiles: "prefixes=digits: ...".
_LANDLINES: Final = {
    "US": "3=7: (A) NNN-NNNN | A-NNN-NNNN | A.NNN.NNNN | +1 A NNN NNNN | +1 (A) NNN-NNNN",
    "CA": "3=7: (A) NNN-NNNN | A-NNN-NNNN | A.NNN.NNNN | +1 A NNN NNNN | +1 (A) NNN-NNNN",
    "GB": "2=8: 0A NNNN NNNN | +44 A NNNN NNNN | (0A) NNNN NNNN | +44 (0)A NNNN NNNN;"
          "3=7: 0A NNN NNNN | +44 A NNN NNNN | (0A) NNN NNNN | +44 (0)A NNN NNNN;"
          "4=6: 0A NNNNNN | +44 A NNNNNN | (0A) NNNNNN | 0A NNN NNN",
    "IE": "1=7: 0A NNN NNNN | +353 A NNN NNNN | (0A) NNN NNNN;"
          "2=7: 0A NNN NNNN | +353 A NNN NNNN | (0A) NNN NNNN",
    "FR": "1=8: 0A NN NN NN NN | +33 A NN NN NN NN | 0A.NN.NN.NN.NN | +33 (0)A NN NN NN NN",
    "DE": "2=8: 0A NNNNNNNN | +49 A NNNNNNNN | (0A) NNNN NNNN | 0A/NNNNNNNN;"
          "3=7: 0A NNNNNNN | +49 A NNNNNNN | (0A) NNN NNNN | 0A/NNNNNNN",
    "CH": "2=7: 0A NNN NN NN | +41 A NNN NN NN | 0A/NNN NN NN | +41 (0)A NNN NN NN",
    "ES": "2=7: AN NNN NNN | +34 AN NNN NNN | A NNN NN NN | +34 A NNN NN NN",
    "IT": "2=8: A NNNN NNNN | +39 A NNNN NNNN | A-NNNNNNNN | A NNNNNNNN;"
          "3=7: A NNN NNNN | +39 A NNN NNNN | A-NNNNNNN | A NNNNNNN",
    "NL": "2=7: 0A NNN NNNN | +31 A NNN NNNN | 0A-NNNNNNN | +31 (0)A NNN NNNN",
    "SE": "1=7: 0A-NNN NN NN | +46 A NNN NN NN | 0A NNN NN NN;"
          "2=7: 0A-NNN NN NN | +46 A NNN NN NN | 0A NNN NN NN",
    "PL": "2=7: A NNN NN NN | +48 A NNN NN NN | (A) NNN-NN-NN",
    "AU": "1=8: (0A) NNNN NNNN | 0A NNNN NNNN | +61 A NNNN NNNN",
    "MX": "2=8: A NNNN NNNN | +52 A NNNN NNNN | (A) NNNN-NNNN;"
          "3=7: A NNN NNNN | +52 A NNN NNNN | (A) NNN-NNNN",
}
_MOBILES: Final = {  # US, CA and MX mobiles share the city's area codes and landline formats
    "GB": "7700 7911 7723 7834 7496=6: 0A NNNNNN | +44 A NNNNNN | 0A NNN NNN | +44 (0)A NNN NNN",
    "IE": "83 85 86 87 89=7: 0A NNN NNNN | +353 A NNN NNNN | 0ANNNNNNN",
    "FR": "6 7=8: 0A NN NN NN NN | +33 A NN NN NN NN | 0A.NN.NN.NN.NN",
    "DE": "151 160 170 171 176 177=8: 0A NNNNNNNN | +49 A NNNNNNNN | 0A/NNNNNNNN | 0A NNNN NNNN",
    "CH": "76 77 78 79=7: 0A NNN NN NN | +41 A NNN NN NN",
    "ES": "6=8: ANN NNN NNN | +34 ANN NNN NNN | ANN NN NN NN",
    "IT": "320 333 335 340 347 349 380 393=7: A NNN NNNN | +39 A NNN NNNN | ANNNNNNN",
    "NL": "6=8: 0A NNNNNNNN | +31 A NNNNNNNN | 0A-NNNNNNNN | 0A NN NN NN NN",
    "SE": "70 72 73 76=7: 0A-NNN NN NN | +46 A NNN NN NN | 0ANNNNNNN",
    "PL": "50 51 53 60 66 69 72 78 79 88=7: AN NNN NNN | +48 AN NNN NNN | ANNNNNNN",
    "AU": "4=8: 0ANN NNN NNN | +61 ANN NNN NNN | 0ANNNNNNNN",
}

# Street lines per style: format ({0} number, {1} name, {2} type) | numbers | names | types
_STREETS: Final = {
    "en": "{0} {1} {2} | 1 9999 | Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Church "
          "High Station Victoria King Queen Mill Market Bridge River Sunset Lincoln Jefferson "
          "Madison Franklin Highland Spring Willow Chestnut Broad "
          "| Street St Avenue Ave Road Rd Boulevard Drive Lane Way Court Place",
    "fr": "{0} {2} {1} | 1 180 | de_la_Paix Victor_Hugo du_Général_de_Gaulle Jean_Jaurès "
          "de_la_République Pasteur des_Lilas du_Moulin Voltaire Saint-Michel de_l'Église "
          "Émile_Zola des_Écoles Gambetta | rue rue rue avenue boulevard place allée impasse quai",
    "de": "{1}{2} {0} | 1 160 | Haupt Bahnhof Schiller Goethe Garten Berg Linden Kirch Schul Wald "
          "Rosen Birken Mozart Friedrich Markt Mühlen | straße straße weg allee ring platz",
    "es": "{2} {1}, {0} | 1 220 | de_Alcalá Mayor Gran_Vía de_la_Constitución del_Sol de_Goya "
          "San_Vicente Real de_Cervantes de_Andalucía Insurgentes Reforma "
          "de_los_Reyes_Católicos | Calle Calle Calle Avenida Paseo Plaza",
    "it": "{2} {1}, {0} | 1 150 | Roma Garibaldi Dante Giuseppe_Verdi Mazzini Cavour "
          "Vittorio_Emanuele della_Repubblica XX_Settembre Manzoni Marconi "
          "| Via Via Via Viale Piazza Corso",
    "nl": "{1}{2} {0} | 1 300 | Kerk Dorp Molen School Heren Keizers Prinsen Linden Stations "
          "Beuken Wilhelmina | straat straat weg laan gracht plein",
    "sv": "{1}{2} {0} | 1 120 | Drottning Kungs Stor Skol Kyrko Ny Öster Väster Sjö Järnvägs Björk "
          "| gatan gatan vägen",
    "pl": "{2} {1} {0} | 1 200 | Marszałkowska Długa Piękna Krakowska Mickiewicza Słowackiego "
          "Kościuszki Sienkiewicza Polna Leśna Ogrodowa | ul. ul. ul. al. pl.",
}

# Company names: adjectives, nouns, trade words, and halves of coined brand names.
_COMPANY_ADJECTIVES: Final = _words(
    "Blue Red Green Silver Golden Northern Southern Eastern Western Pacific Atlantic Summit Prime "
    "Bright Clear Global United First Advanced Modern Rapid Smart Urban Royal Coastal Alpine "
    "Evergreen Crystal Iron Granite Horizon Pioneer Heritage Liberty Premier Vantage Keystone"
)
_COMPANY_NOUNS: Final = _words(
    "Harbor River Peak Valley Ridge Bridge Oak Pine Falcon Eagle Lion Wolf Fox Star Sun Wave Stone "
    "Field Gate Point Path Forge Mill Crest Grove Lake Bay Rock Arrow Beacon Anchor Compass Circle "
    "Square Tower Spring Meadow Canyon"
)
_COMPANY_WORDS: Final = _words(
    "Solutions Systems Partners Group Industries Holdings Technologies Logistics Consulting Labs "
    "Foods Energy Health Media Capital Manufacturing Analytics Studios Supply Ventures Software "
    "Networks Services Trading Engineering Pharma Robotics Design Finance"
)
_COINED: Final = (
    _words("Nex Vox Zen Quant Lum Astr Veri Cor Omni Syn Octa Tera Bright Clear Blue Silver Iron "
           "Green North Sun Nova Opti Data Cloud Hyper"),
    _words("ora ify ex io ware works lane gate point wave line sys tek labs logic path stone field "
           "bridge ridge ly net hub"),
)
_TITLES: Final = [t.split(":") for t in _words(  # title:department, most common first
    "Marketing_Manager:Marketing Sales_Manager:Sales Account_Executive:Sales "
    "Project_Manager:Operations Software_Engineer:Engineering Office_Manager:Administration "
    "Purchasing_Manager:Procurement Operations_Manager:Operations IT_Manager:IT "
    "Director_of_Operations:Operations Product_Manager:Product Business_Analyst:Finance "
    "Senior_Software_Engineer:Engineering Customer_Success_Manager:Customer_Success "
    "HR_Manager:Human_Resources Controller:Finance Accountant:Finance "
    "Marketing_Coordinator:Marketing Sales_Representative:Sales Data_Analyst:IT VP_of_Sales:Sales "
    "VP_of_Marketing:Marketing VP_of_Engineering:Engineering Director_of_IT:IT CEO:Executive "
    "CFO:Finance CTO:Engineering COO:Executive CMO:Marketing Founder:Executive "
    "Managing_Director:Executive Head_of_Digital:Marketing Chief_Revenue_Officer:Sales "
    "Legal_Counsel:Legal Executive_Assistant:Administration Consultant:Consulting "
    "Buyer:Procurement Engineer:Engineering"
)]
_OPPORTUNITY_NAMES: Final = (  # "<account> - <this>": {0} seats, {1} a year, {2} a quarter
    "{0} Licenses", "Renewal {1}", "Expansion", "Upgrade to Enterprise", "New Business",
    "Implementation Services", "Pilot Program", "Support Contract", "Platform Subscription",
    "Consulting Engagement", "Add-On Seats", "Q{2} Order",
)
_DESCRIPTIONS: Final = (  # {0} the city, {1} a year
    "Headquartered in {0}.", "Customer since {1}; renewals handled by the regional team.",
    "Met at a trade show in {1}.", "Strategic account; prefers email contact.",
    "Part of a larger group based in {0}.", "Referred by a channel partner in {1}.",
)
# Email local parts at work, then at a free mail host: {0} first name, {1} last name,
# {2} a number, {3} the birth year (or the number); {4} is the domain.
_EMAIL_FORMATS: Final = tuple(f"{local}@{{4}}" for local in (
    "{0}.{1}", "{0[0]}{1}", "{0}_{1}", "{0}{1[0]}", "{1}.{0}", "{0}", "{0}.{1}", "{0}{1}",
    "{0}.{1}", "{0[0]}{1}", "{0}_{1}", "{0}.{1}{2}", "{1}.{0}", "{0}{1}", "{0}{1}{3}",
    "{0[0]}{1}{2}",
))
_KEYBOARD: Final = dict(zip("qwertyuiopasdfghjklzxcvbnm", _words(  # QWERTY neighbours
    "wa qeas wrsd etdf ryfg tugh yihj uojk ipkl ol qwsz awedxz serfcx drtgvc ftyhbv gyujnb huikmn "
    "jiolm kop asx zsdc xdfv cfgb vghn bhjm njk"
), strict=True))
_FOLD_SPECIAL: Final = str.maketrans({  # letters NFKD does not decompose
    "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ı": "i", "þ": "th", "ð": "d",
})
_FILL_ALPHABETS: Final = (  # pattern character: what may stand in its place
    (ord("#"), np.frombuffer(b"0123456789", dtype=np.uint8)),
    (ord("%"), np.frombuffer(b"23456789", dtype=np.uint8)),  # phone numbers never start 0 or 1
    (ord("@"), np.frombuffer(b"ABEGHJLNPRSTWXYZ", dtype=np.uint8)),  # valid in UK and CA codes
)
# fmt: on


def _fold(text: str) -> str:
    """Drop accents (José -> Jose, Müller -> Muller, Łukasz -> Lukasz), keeping the case."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _slug(text: str, keep: str = "") -> str:
    """Keep the lowercase ASCII letters and digits of folded ``text`` (and chars in ``keep``)."""
    return "".join(c for c in _fold(text).lower() if c.isascii() and (c.isalnum() or c in keep))


def _weights(text: str) -> dict[str, float]:
    return {k: float(w or 1) for k, _, w in (item.partition(":") for item in text.split())}


def _cumulative(weights: Sequence[float]) -> _Floats:
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cum / cum[-1]  # type: ignore[no-any-return]


def _zipf(k: int, offset: float) -> _Floats:
    """Cumulative popularity weights: entry i is drawn in proportion to 1 / (i + offset)."""
    return _cumulative([1.0 / (i + offset) for i in range(k)])


def _objects(values: Iterable[Any]) -> _Objs:
    items = list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


class _Draw:
    """Uniform draws from one PCG64 stream, turned into indexes, choices and flags."""

    def __init__(self, seed: int, stream: int) -> None:
        self._gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))

    def uniform(self, n: int) -> _Floats:
        return self._gen.random(n)

    def index(self, n: int, k: int | _Ints) -> _Ints:
        """Integers in ``[0, k)``; ``k`` may be an array (one bound per row)."""
        scaled: _Ints = (self._gen.random(n) * k).astype(np.int64)
        capped: _Ints = np.minimum(scaled, np.asarray(k) - 1)
        return capped

    def between(self, n: int, lo: int | _Ints, hi: int | _Ints) -> _Ints:
        """Integers in ``[lo, hi)`` (``lo`` where the range is empty)."""
        return lo + self.index(n, np.maximum(np.asarray(hi) - lo, 1))

    def pick(self, n: int, cum: _Floats) -> _Ints:
        """Indexes drawn with the probabilities behind the cumulative weights ``cum``."""
        idx = np.searchsorted(cum, self._gen.random(n), side="right")
        return np.minimum(idx, len(cum) - 1).astype(np.int64)

    def weighted(self, n: int, weights: Sequence[float]) -> _Ints:
        return self.pick(n, _cumulative(weights))

    def flag(self, n: int, p: float) -> _Bools:
        return self._gen.random(n) < p

    def choose(self, n: int, options: Sequence[Any], weights: Sequence[float] = ()) -> _Objs:
        idx = self.weighted(n, weights) if weights else self.index(n, len(options))
        return _objects(options)[idx]


@dataclass(frozen=True)
class _Ragged:
    """Lists of different lengths, flattened to pick from list ``group[i]`` for each row i."""

    values: _Objs
    offset: _Ints
    length: _Ints

    @classmethod
    def of(cls, lists: Sequence[Sequence[str]]) -> _Ragged:
        length = np.array([len(x) for x in lists], dtype=np.int64)
        return cls(_objects(v for x in lists for v in x), np.cumsum(length) - length, length)

    def pick(self, draw: _Draw, group: _Ints) -> _Objs:
        picked: _Objs = self.values[self.offset[group] + draw.index(len(group), self.length[group])]
        return picked


# --- lookups derived from the reference data ---------------------------------------------------


@dataclass(frozen=True)
class _Culture:
    male: _Objs
    female: _Objs
    last: _Objs
    last_female: _Objs  # Polish women's surnames take the feminine ending: Kowalski -> Kowalska
    cum: tuple[_Floats, _Floats, _Floats]  # male, female, last


def _culture(male: str, female: str, last: str, *, feminine: bool) -> _Culture:
    males, females, lasts = _words(male), _words(female), _words(last)
    lasts_f = [s[:-1] + "a" if feminine and s.endswith(("ski", "cki")) else s for s in lasts]
    cum = (_zipf(len(males), 6), _zipf(len(females), 6), _zipf(len(lasts), 8))
    return _Culture(_objects(males), _objects(females), _objects(lasts), _objects(lasts_f), cum)


@dataclass(frozen=True)
class _Country:
    name: str
    tld: str
    culture_cum: _Floats
    free_domains: _Objs
    free_cum: _Floats
    suffixes: list[str]


def _country(name: str, tld: str, cultures: str, domains: str, suffixes: str) -> _Country:
    by_culture, by_domain = _weights(cultures), _weights(domains)
    culture_cum = _cumulative([by_culture.get(c, 0.0) for c in _CULTURES])
    free_cum = _cumulative(list(by_domain.values()))
    return _Country(name, tld, culture_cum, _objects(by_domain), free_cum, _words(suffixes))


@dataclass(frozen=True)
class _City:
    name: str
    state: str
    postal: str
    area: str
    country: int
    style: int


def _cities() -> list[_City]:
    cities = []
    for ci, (code, entries) in enumerate(_CITY_DATA.items()):
        for entry in entries.split(";"):
            name, state, postal, area, *style = entry.strip().split("/")
            style_name = style[0] if style else _COUNTRY_DATA[code][2]
            cities.append(_City(name, state, postal, area, ci, _STYLES.index(style_name)))
    return cities


def _phone_formats(spec: str) -> dict[str, tuple[int, list[str]]]:
    """Parse "3=7: (A) NNN-NNNN | ...; ..." into {"3": (7, ["(A) NNN-NNNN", ...]), ...}."""
    out = {}
    for group in spec.split(";"):
        head, _, formats = group.partition(":")
        key, _, digits = head.partition("=")
        out[key.strip()] = (int(digits), [f.strip() for f in formats.split("|")])
    return out


def _phone_pattern(template: str, area: str, digits: int) -> str:
    """Turn "(A) NNN-NNNN" into "(415) %##-####" for :func:`_fill`."""
    if template.count("N") != digits:
        raise ValueError(f"phone format {template!r} must have {digits} digits")
    return template.replace("A", area).replace("N", "#").replace("#", "%", 1)


@dataclass(frozen=True)
class _PhoneBook:
    """Every phone pattern, and where each city's landlines and country's mobiles start."""

    patterns: list[str]
    land: _Ints  # per city: offset, count
    mobile: _Ints  # per country: offset, prefixes, formats (0 formats: mobiles look like landlines)


def _phone_book() -> _PhoneBook:
    patterns: list[str] = []
    land, mobile = [], []
    for city in _CITIES:
        code = list(_COUNTRY_DATA)[city.country]
        digits, formats = _phone_formats(_LANDLINES[code])[str(len(city.area))]
        land.append((len(patterns), len(formats)))
        patterns += [_phone_pattern(f, city.area, digits) for f in formats]
    for code in _COUNTRY_DATA:
        ((prefixes, (digits, formats)),) = _phone_formats(_MOBILES.get(code, "=0:")).items()
        mobile.append((len(patterns), len(prefixes.split()), len(formats) if digits else 0))
        patterns += [_phone_pattern(f, p, digits) for p in prefixes.split() for f in formats]
    return _PhoneBook(patterns, np.array(land, dtype=np.int64), np.array(mobile, dtype=np.int64))


def _city_cum(countries: Iterable[int]) -> _Floats:
    """Cumulative city weights: each country's weight split over its cities, big ones first."""
    weights = np.zeros(len(_CITIES))
    for ci in countries:
        rows = np.flatnonzero(ci == _CITY_COUNTRY)
        w = 1.0 / (np.arange(len(rows)) + 2.0)
        weights[rows] = _COUNTRY_WEIGHTS[ci] * w / sum(w.tolist())  # a plain, ordered sum
    return _cumulative(weights.tolist())


_CULTURES: Final = tuple(_NAME_DATA)
_PEOPLE: Final = tuple(_culture(*_NAME_DATA[c], feminine=c == "pl") for c in _CULTURES)
_ALL_NAMES: Final = frozenset(
    {str(n) for p in _PEOPLE for names in (p.male, p.female, p.last, p.last_female) for n in names}
    | {n for first, last, _ in _COMMON_NAMES for n in (first, last)}
)
_LOCAL: Final = {n: _slug(n, "-") for n in _ALL_NAMES}  # the form a name takes in an email
_FOLDED: Final = {n: _fold(n) for n in _ALL_NAMES}
_ACCENTED: Final = frozenset(n for n, folded in _FOLDED.items() if folded != n)
_STYLES: Final = tuple(_STREETS)
_STREET_PARTS: Final = [[part.strip() for part in _STREETS[s].split("|")] for s in _STYLES]
_STREET_FORMATS: Final = [parts[0] for parts in _STREET_PARTS]
_STREET_NUMBERS: Final = np.array([parts[1].split() for parts in _STREET_PARTS], dtype=np.int64)
_STREET_NAMES: Final = _Ragged.of([_words(parts[2]) for parts in _STREET_PARTS])
_STREET_TYPES: Final = _Ragged.of([_words(parts[3]) for parts in _STREET_PARTS])
_COUNTRIES: Final = [_country(n, t, c, d, s) for n, t, _, c, d, s in _COUNTRY_DATA.values()]
_COUNTRY_NAMES: Final = _objects(c.name for c in _COUNTRIES)
_COUNTRY_TLDS: Final = _objects(c.tld for c in _COUNTRIES)
_SUFFIXES: Final = _Ragged.of([c.suffixes for c in _COUNTRIES])
_CITIES: Final = _cities()
_CITY_NAMES: Final = _objects(c.name for c in _CITIES)
_CITY_STATES: Final = _objects(c.state for c in _CITIES)
_CITY_COUNTRY: Final = np.array([c.country for c in _CITIES], dtype=np.int64)
_CITY_STYLE: Final = np.array([c.style for c in _CITIES], dtype=np.int64)
_CITY_CUM: Final = _city_cum(range(len(_COUNTRIES)))
_CITY_CUM_BY_COUNTRY: Final = [_city_cum([ci]) for ci in range(len(_COUNTRIES))]
_POSTAL_PATTERNS: Final = [c.postal for c in _CITIES]
_BOOK: Final = _phone_book()
_COMPANY_TOKENS: Final = (*_COMPANY_ADJECTIVES, *_COMPANY_NOUNS, *_COMPANY_WORDS, "&")
_SLUGS: Final = (
    {  # the form each part of a company name takes in its web domain
        w: _slug(w.replace("&", "and"))
        for w in (*_ALL_NAMES, *_COMPANY_TOKENS, *(c.name for c in _CITIES))
    }
    | {a + b: (a + b).lower() for a in _COINED[0] for b in _COINED[1]}
    | {"": ""}
)
_TITLE_NAMES: Final = _objects(t[0] for t in _TITLES)
_DEPARTMENTS: Final = _objects(t[1] for t in _TITLES)
