//! The corpus's inputs: real brands and kinds of business (derived files, embedded), the
//! countries statements come from, and the word lists of lines that have no brand.

use std::collections::HashMap;

/// `category, tag, brand, countries` from name-suggestion-index (see `data/corpus/NOTICE.md`).
const BRANDS_TSV: &str = include_str!("../../../data/corpus/brands.tsv");
/// `category, tag, language, kind` from id-tagging-schema's preset names.
const KINDS_TSV: &str = include_str!("../../../data/corpus/kinds.tsv");
/// `path, category, sub-category`: which sub-category each OpenStreetMap tag teaches.
const TAG_MAP_TSV: &str = include_str!("../../../data/corpus/tag-map.tsv");

/// The label a line of an OSM tag is written with: `category/sub` when the tag map gives
/// the tag a sub-category, else `category`. `tag` is a brand's path
/// (`brands/amenity/cafe`) or a kind's tag (`amenity/cafe`, the path without its first part).
pub(crate) fn tag_label(category: &str, tag: &str) -> Option<&'static str> {
    static SUBS: std::sync::OnceLock<HashMap<(&'static str, &'static str), &'static str>> =
        std::sync::OnceLock::new();
    let subs = SUBS.get_or_init(|| {
        let mut m = HashMap::new();
        for l in TAG_MAP_TSV.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&'static str> = l.split('\t').collect();
            if let [path, category, sub] = f[..] {
                m.insert((category, path), sub);
                if let Some((_, tag)) = path.split_once('/') {
                    m.insert((category, tag), sub);
                }
            }
        }
        m
    });
    label_of(category, subs.get(&(category, tag)).copied().unwrap_or(""))
}

/// The taxonomy's label of sub-category `sub` of `category` (`""`: the bare category).
fn label_of(category: &str, sub: &str) -> Option<&'static str> {
    match sub {
        "" => super::static_label(category),
        sub => super::static_label(&crate::domain::taxonomy::sub_label(category, sub)),
    }
}

/// The label of a brand of [`extra_brands`]: its sub-category where the brand names one.
pub(crate) fn extra_label(category: &str, name: &str) -> Option<&'static str> {
    let sub = match category {
        "subscriptions" => match name {
            "NETFLIX.COM"
            | "SPOTIFY"
            | "DISNEY PLUS"
            | "GOOGLE *YOUTUBE PREMIUM"
            | "AMAZON PRIME"
            | "HBO MAX"
            | "DEEZER"
            | "CANAL+"
            | "DAZN"
            | "PARAMOUNT+"
            | "CRUNCHYROLL"
            | "GLOBOPLAY"
            | "AUDIBLE"
            | "KINDLE UNLIMITED"
            | "TWITCH"
            | "MUBI"
            | "STARZPLAY"
            | "APPLE TV+"
            | "MAX STREAMING"
            | "TIDAL"
            | "SKY TICKET"
            | "RTL+"
            | "MOLOTOV TV"
            | "FILMIN"
            | "CLARO VIDEO"
            | "VIX PREMIUM" => "streaming",
            "ADOBE *CREATIVE CLOUD"
            | "MICROSOFT*365"
            | "DROPBOX"
            | "OPENAI *CHATGPT"
            | "NOTION LABS"
            | "GITHUB"
            | "ZOOM.US"
            | "CANVA"
            | "ICLOUD STORAGE" => "software",
            "NYTIMES DIGITAL"
            | "THE GUARDIAN"
            | "LE MONDE ABONNEMENT"
            | "SPIEGEL+"
            | "EL PAIS SUSCRIPCION"
            | "FOLHA DE S.PAULO" => "news",
            "XBOX GAME PASS" | "PLAYSTATION NETWORK" | "NINTENDO ESHOP" => "gaming",
            _ => "",
        },
        "transport" => match name {
            "UBER *TRIP" | "LYFT *RIDE" | "99APP *99POP" | "CABIFY" | "BOLT.EU" | "FREENOW"
            | "BLABLACAR" | "DIDI" | "INDRIVER" => "ride_hailing",
            "LIME*RIDE" | "TIER MOBILITY" | "VOI TECHNOLOGY" | "CITI BIKE" => "micromobility",
            "GETAROUND" | "SHARE NOW" => "car_sharing",
            "EZPASS" | "SEM PARAR" | "CONECTCAR" => "tolls",
            "TFL TRAVEL CH" | "RENFE" | "SNCF CONNECT" | "DB VERTRIEB" | "TRENITALIA"
            | "AMTRAK" => "public_transport",
            _ => "",
        },
        "travel" => match name {
            "BOOKING.COM" | "AIRBNB" | "HOTELS.COM" => "lodging",
            "EXPEDIA" | "DECOLAR" | "TRIVAGO" | "EDREAMS" | "OPODO" | "LASTMINUTE.COM"
            | "KAYAK" | "123MILHAS" | "DESPEGAR" => "agencies",
            _ => "flights",
        },
        "shopping" => match name {
            "SHEIN" | "ZALANDO" | "ASOS" | "DAFITI" | "VINTED" | "ENJOEI" | "ABOUT YOU"
            | "RIACHUELO.COM" => "clothing",
            "KABUM" | "BEST BUY" | "APPLE STORE" | "FASTSHOP" | "PICHAU" => "electronics",
            "NETSHOES" | "CENTAURO.COM" => "sports",
            "ESTANTE VIRTUAL" | "BOOK DEPOSITORY" => "books",
            "PETZ.COM" | "COBASI" | "CHEWY.COM" | "ZOOPLUS" => "pets",
            "BELEZA NA WEB" | "SEPHORA.COM" | "NOTINO" => "beauty",
            "IKEA.COM" | "WAYFAIR" | "LEROY MERLIN.COM" | "TOK&STOK" => "home",
            _ => "department_stores",
        },
        "health" => match name {
            "FLEURY" | "DASA" | "HERMES PARDINI" | "LAVOISIER" | "QUEST DIAGNOSTICS"
            | "LABCORP" | "DOCTOLIB" | "ZOCDOC" | "DR CONSULTA" => "medical",
            _ => "",
        },
        "utilities" => match name {
            "SABESP" | "CANAL DE ISABEL II" | "THAMES WATER" | "VEOLIA EAU" | "SUEZ EAU"
            | "AGUAS ANDINAS" | "EPAL" | "AMERICAN WATER" | "SEVERN TRENT" | "UNITED UTILITIES"
            | "ANGLIAN WATER" | "UISCE EIREANN" | "EAU DE PARIS" | "AGUAS DE VALENCIA"
            | "COPASA" | "SANEPAR" | "SYDNEY WATER" => "water",
            "STADTWERKE" | "EPM" => "",
            _ => "energy",
        },
        _ => "",
    };
    label_of(category, sub)
}

/// The five statement languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lang {
    PtBr,
    En,
    Es,
    Fr,
    De,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::PtBr => "pt-BR",
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
            Lang::De => "de",
        }
    }
}

/// Which part of the data a country (or template) may appear in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// Every split.
    No,
    /// Validation (calibration) rows only.
    Validation,
    /// Test rows only.
    Test,
}

/// A country whose banks (or whose card lines) print statements in one of our languages.
pub(crate) struct Country {
    pub code: &'static str,
    pub lang: Lang,
    pub currency: &'static str,
    /// Local money per BRL (amounts are drawn in BRL and converted).
    pub per_brl: f64,
    pub cities: &'static [&'static str],
    /// Region codes printed after the city (US states, Brazilian UFs); empty: the country code.
    pub regions: &'static [&'static str],
    pub held: Held,
    /// Relative share of rows.
    pub weight: f64,
}

pub(crate) const COUNTRIES: &[Country] = &[
    Country {
        code: "br",
        lang: Lang::PtBr,
        currency: "BRL",
        per_brl: 1.0,
        cities: &[
            "SAO PAULO",
            "RIO DE JANEIRO",
            "BELO HORIZONTE",
            "CURITIBA",
            "PORTO ALEGRE",
            "SALVADOR",
            "RECIFE",
            "BRASILIA",
            "FORTALEZA",
            "CAMPINAS",
            "GOIANIA",
            "FLORIANOPOLIS",
        ],
        regions: &[
            "SP", "RJ", "MG", "PR", "RS", "BA", "PE", "DF", "CE", "SC", "GO",
        ],
        held: Held::No,
        weight: 6.0,
    },
    Country {
        code: "pt",
        lang: Lang::PtBr,
        currency: "EUR",
        per_brl: 0.17,
        cities: &["LISBOA", "PORTO", "BRAGA", "COIMBRA", "FARO", "AVEIRO"],
        regions: &[],
        held: Held::Test,
        weight: 1.0,
    },
    Country {
        code: "us",
        lang: Lang::En,
        currency: "USD",
        per_brl: 0.19,
        cities: &[
            "NEW YORK",
            "LOS ANGELES",
            "CHICAGO",
            "HOUSTON",
            "PHOENIX",
            "SEATTLE",
            "DENVER",
            "BOSTON",
            "MIAMI",
            "ATLANTA",
            "AUSTIN",
            "SAN DIEGO",
            "SAN JOSE",
            "SAN FRANCISCO",
            "DALLAS",
            "PHILADELPHIA",
            "COLUMBUS",
            "CHARLOTTE",
            "MINNEAPOLIS",
            "PORTLAND",
            "LAS VEGAS",
            "DETROIT",
            "NASHVILLE",
            "BALTIMORE",
        ],
        regions: &[
            "NY", "CA", "IL", "TX", "AZ", "WA", "CO", "MA", "FL", "GA", "NJ", "OH", "PA", "MN",
            "NC", "OR", "NV", "MI", "TN", "MD",
        ],
        held: Held::No,
        weight: 4.0,
    },
    Country {
        code: "gb",
        lang: Lang::En,
        currency: "GBP",
        per_brl: 0.15,
        cities: &[
            "LONDON",
            "MANCHESTER",
            "BIRMINGHAM",
            "LEEDS",
            "GLASGOW",
            "BRISTOL",
            "EDINBURGH",
            "LIVERPOOL",
        ],
        regions: &[],
        held: Held::No,
        weight: 2.5,
    },
    Country {
        code: "ie",
        lang: Lang::En,
        currency: "EUR",
        per_brl: 0.17,
        cities: &["DUBLIN", "CORK", "GALWAY", "LIMERICK"],
        regions: &[],
        held: Held::No,
        weight: 0.7,
    },
    Country {
        code: "ca",
        lang: Lang::En,
        currency: "CAD",
        per_brl: 0.26,
        cities: &["TORONTO", "VANCOUVER", "CALGARY", "OTTAWA", "EDMONTON"],
        regions: &["ON", "BC", "AB", "QC"],
        held: Held::No,
        weight: 1.0,
    },
    Country {
        code: "nz",
        lang: Lang::En,
        currency: "NZD",
        per_brl: 0.32,
        cities: &["AUCKLAND", "WELLINGTON", "CHRISTCHURCH"],
        regions: &[],
        held: Held::Validation,
        weight: 0.6,
    },
    Country {
        code: "au",
        lang: Lang::En,
        currency: "AUD",
        per_brl: 0.29,
        cities: &["SYDNEY", "MELBOURNE", "BRISBANE", "PERTH", "ADELAIDE"],
        regions: &["NSW", "VIC", "QLD", "WA", "SA"],
        held: Held::Test,
        weight: 1.0,
    },
    Country {
        code: "es",
        lang: Lang::Es,
        currency: "EUR",
        per_brl: 0.17,
        cities: &[
            "MADRID",
            "BARCELONA",
            "VALENCIA",
            "SEVILLA",
            "BILBAO",
            "MALAGA",
            "ZARAGOZA",
        ],
        regions: &[],
        held: Held::No,
        weight: 2.0,
    },
    Country {
        code: "mx",
        lang: Lang::Es,
        currency: "MXN",
        per_brl: 3.4,
        cities: &[
            "CIUDAD DE MEXICO",
            "GUADALAJARA",
            "MONTERREY",
            "PUEBLA",
            "CANCUN",
        ],
        regions: &["CDMX", "JAL", "NL", "PUE", "QROO"],
        held: Held::No,
        weight: 1.5,
    },
    Country {
        code: "co",
        lang: Lang::Es,
        currency: "COP",
        per_brl: 740.0,
        cities: &["BOGOTA", "MEDELLIN", "CALI", "BARRANQUILLA"],
        regions: &[],
        held: Held::Validation,
        weight: 0.8,
    },
    Country {
        code: "ar",
        lang: Lang::Es,
        currency: "ARS",
        per_brl: 190.0,
        cities: &["BUENOS AIRES", "CORDOBA", "ROSARIO", "MENDOZA"],
        regions: &[],
        held: Held::Test,
        weight: 0.8,
    },
    Country {
        code: "cl",
        lang: Lang::Es,
        currency: "CLP",
        per_brl: 175.0,
        cities: &["SANTIAGO", "VALPARAISO", "CONCEPCION"],
        regions: &[],
        held: Held::Test,
        weight: 0.6,
    },
    Country {
        code: "fr",
        lang: Lang::Fr,
        currency: "EUR",
        per_brl: 0.17,
        cities: &[
            "PARIS",
            "LYON",
            "MARSEILLE",
            "TOULOUSE",
            "NICE",
            "NANTES",
            "LILLE",
            "BORDEAUX",
            "STRASBOURG",
        ],
        regions: &[],
        held: Held::No,
        weight: 2.0,
    },
    Country {
        code: "be",
        lang: Lang::Fr,
        currency: "EUR",
        per_brl: 0.17,
        cities: &["BRUXELLES", "LIEGE", "NAMUR", "CHARLEROI"],
        regions: &[],
        held: Held::Test,
        weight: 0.7,
    },
    Country {
        code: "lu",
        lang: Lang::Fr,
        currency: "EUR",
        per_brl: 0.17,
        cities: &["LUXEMBOURG", "ESCH-SUR-ALZETTE"],
        regions: &[],
        held: Held::Validation,
        weight: 0.4,
    },
    Country {
        code: "de",
        lang: Lang::De,
        currency: "EUR",
        per_brl: 0.17,
        cities: &[
            "BERLIN",
            "MUENCHEN",
            "HAMBURG",
            "KOELN",
            "FRANKFURT",
            "STUTTGART",
            "DUESSELDORF",
            "LEIPZIG",
        ],
        regions: &[],
        held: Held::No,
        weight: 2.0,
    },
    Country {
        code: "at",
        lang: Lang::De,
        currency: "EUR",
        per_brl: 0.17,
        cities: &["WIEN", "GRAZ", "LINZ", "SALZBURG", "INNSBRUCK"],
        regions: &[],
        held: Held::Test,
        weight: 0.7,
    },
    Country {
        code: "ch",
        lang: Lang::De,
        currency: "CHF",
        per_brl: 0.16,
        cities: &["ZUERICH", "BERN", "BASEL", "LUZERN"],
        regions: &[],
        held: Held::Validation,
        weight: 0.5,
    },
    // Central Europe, whose card lines (and the statements of international banks) print
    // in English: its own brands (`ALBERT`, `ZABKA`, `BENZINA`, `MOL`) and banks' machines.
    Country {
        code: "cz",
        lang: Lang::En,
        currency: "CZK",
        per_brl: 4.2,
        cities: &["PRAHA", "BRNO", "OSTRAVA", "PLZEN", "OLOMOUC", "LIBEREC"],
        regions: &[],
        held: Held::No,
        weight: 0.8,
    },
    Country {
        code: "pl",
        lang: Lang::En,
        currency: "PLN",
        per_brl: 0.72,
        cities: &["WARSZAWA", "KRAKOW", "WROCLAW", "POZNAN", "GDANSK", "LODZ"],
        regions: &[],
        held: Held::No,
        weight: 0.8,
    },
    Country {
        code: "hu",
        lang: Lang::En,
        currency: "HUF",
        per_brl: 66.0,
        cities: &["BUDAPEST", "DEBRECEN", "SZEGED", "PECS", "GYOR"],
        regions: &[],
        held: Held::No,
        weight: 0.6,
    },
];

/// A real brand of the index.
#[derive(Clone, Debug)]
pub(crate) struct Brand {
    pub category: &'static str,
    /// Its label: `category/sub` from its tag, or `category`.
    pub label: &'static str,
    pub name: &'static str,
    /// Lower-case ISO codes (`001`: worldwide; region codes like `150` pass through).
    pub countries: Vec<&'static str>,
}

/// The brands of the embedded index, in file order.
pub(crate) fn brands() -> Vec<Brand> {
    BRANDS_TSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            let category = f.next()?;
            let tag = f.next()?;
            let name = f.next()?;
            let countries = f.next()?.split(',').collect();
            Some(Brand {
                category: super::static_label(category)?,
                label: tag_label(category, tag)?,
                name,
                countries,
            })
        })
        .collect()
}

/// The kinds of business of `category` in `lang` (`Supermercado`, `Boulangerie`), each
/// with the label its tag teaches.
pub(crate) fn kinds(category: &str, lang: Lang) -> Vec<(&'static str, &'static str)> {
    KINDS_TSV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&'static str> = l.split('\t').collect();
            if f.len() == 4 && f[0] == category && f[2] == lang.code() {
                let kind = f[3].split(" / ").next().unwrap_or(f[3]);
                Some((kind, tag_label(category, f[1])?))
            } else {
                None
            }
        })
        .collect()
}

/// First names and surnames per language (counterparties of transfers and rent, owners of
/// local shops).
pub(crate) fn names(lang: Lang) -> (&'static [&'static str], &'static [&'static str]) {
    match lang {
        Lang::PtBr => (
            &[
                "JOAO", "MARIA", "ANA", "JOSE", "PEDRO", "LUCAS", "JULIANA", "FERNANDA", "CARLOS",
                "PAULO", "MARCOS", "PATRICIA", "RAFAEL", "BRUNO", "LETICIA", "GABRIEL", "CAMILA",
                "RODRIGO", "ALINE", "TIAGO",
            ],
            &[
                "SILVA",
                "SANTOS",
                "OLIVEIRA",
                "SOUZA",
                "PEREIRA",
                "LIMA",
                "COSTA",
                "FERREIRA",
                "ALMEIDA",
                "RODRIGUES",
                "CARVALHO",
                "GOMES",
                "MARTINS",
                "ARAUJO",
                "RIBEIRO",
                "BARBOSA",
                "ROCHA",
                "MOREIRA",
                "NUNES",
                "MENDES",
            ],
        ),
        Lang::En => (
            &[
                "JOHN", "MARY", "JAMES", "SARAH", "DAVID", "EMMA", "MICHAEL", "OLIVIA", "DANIEL",
                "SOPHIE", "THOMAS", "LAURA", "CHRIS", "JESSICA", "MATTHEW", "HANNAH", "RYAN",
                "CHLOE", "JACK", "EMILY",
            ],
            &[
                "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "TAYLOR", "DAVIES", "WILSON",
                "EVANS", "THOMAS", "MILLER", "MOORE", "WALKER", "WRIGHT", "CLARK", "HALL", "ALLEN",
                "YOUNG", "KING", "SCOTT",
            ],
        ),
        Lang::Es => (
            &[
                "JAVIER",
                "LUCIA",
                "CARMEN",
                "ALEJANDRO",
                "PABLO",
                "SOFIA",
                "DIEGO",
                "ELENA",
                "MIGUEL",
                "PAULA",
                "SERGIO",
                "MARTA",
                "ANDRES",
                "VALENTINA",
                "JORGE",
                "ISABEL",
                "MATEO",
                "DANIELA",
                "RAUL",
                "NATALIA",
            ],
            &[
                "GARCIA",
                "MARTINEZ",
                "LOPEZ",
                "SANCHEZ",
                "GONZALEZ",
                "PEREZ",
                "RODRIGUEZ",
                "FERNANDEZ",
                "GOMEZ",
                "DIAZ",
                "MORENO",
                "MUNOZ",
                "ALVAREZ",
                "ROMERO",
                "RUIZ",
                "HERNANDEZ",
                "JIMENEZ",
                "TORRES",
                "NAVARRO",
                "RAMOS",
            ],
        ),
        Lang::Fr => (
            &[
                "JEAN", "MARIE", "PIERRE", "SOPHIE", "NICOLAS", "CAMILLE", "JULIEN", "CLAIRE",
                "THOMAS", "AMELIE", "ANTOINE", "MANON", "LUC", "CHLOE", "HUGO", "LEA", "LOUIS",
                "INES", "MATHIEU", "CELINE",
            ],
            &[
                "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
                "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARNIER", "FAURE",
                "ROUSSEAU", "BLANC", "GUERIN", "MULLER",
            ],
        ),
        Lang::De => (
            &[
                "LUKAS",
                "ANNA",
                "MAXIMILIAN",
                "LENA",
                "FELIX",
                "JULIA",
                "JONAS",
                "LAURA",
                "PAUL",
                "SARAH",
                "TOBIAS",
                "KATHARINA",
                "STEFAN",
                "SABINE",
                "MARKUS",
                "CLAUDIA",
                "FLORIAN",
                "NINA",
                "ANDREAS",
                "MIRIAM",
            ],
            &[
                "MUELLER",
                "SCHMIDT",
                "SCHNEIDER",
                "FISCHER",
                "WEBER",
                "MEYER",
                "WAGNER",
                "BECKER",
                "SCHULZ",
                "HOFFMANN",
                "KOCH",
                "RICHTER",
                "KLEIN",
                "WOLF",
                "SCHROEDER",
                "NEUMANN",
                "SCHWARZ",
                "ZIMMERMANN",
                "BRAUN",
                "KRUEGER",
            ],
        ),
    }
}

/// Company suffixes (employers, landlords' agencies).
pub(crate) fn company_suffixes(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::PtBr => &["LTDA", "S/A", "SA", "ME", "EIRELI", "LTDA ME"],
        Lang::En => &["LTD", "INC", "LLC", "PLC", "CORP", "CO"],
        Lang::Es => &["SL", "SA", "S.L.", "SAS", "S.A. DE C.V."],
        Lang::Fr => &["SARL", "SAS", "SA", "EURL"],
        Lang::De => &["GMBH", "AG", "KG", "GMBH & CO. KG", "E.K."],
    }
}

/// Letting agents and rental platforms that collect rent (one landlord in ten), by language.
pub(crate) fn letting_agents(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::PtBr => &[
            "QUINTOANDAR",
            "LOFT",
            "HOUSI",
            "LELLO IMOVEIS",
            "APSA",
            "AUXILIADORA PREDIAL",
            "LOPES IMOVEIS",
        ],
        Lang::En => &[
            "FOXTONS",
            "OPENRENT",
            "GRAINGER PLC",
            "GREYSTAR",
            "EQUITY RESIDENTIAL",
            "RENTPAYMENT.COM",
            "RAY WHITE",
        ],
        Lang::Es => &["FOTOCASA", "IDEALISTA", "TECNOCASA", "ALQUILER SEGURO"],
        Lang::Fr => &["FONCIA", "NEXITY", "CITYA", "ORPI GESTION", "LOCSERVICE"],
        Lang::De => &["VONOVIA", "LEG IMMOBILIEN", "DEUTSCHE WOHNEN", "VIVAWEST"],
    }
}

/// Brands of categories without OSM places (or with too few in it): streaming and software,
/// ride-hailing and rail apps, airlines and booking sites, utilities and telecom operators,
/// online shops and marketplaces, food-delivery apps, laboratories and insurers. Held
/// out by brand like the others, except those of categories the index also has brands of,
/// which always train (`brand_split`).
pub(crate) fn extra_brands(category: &str) -> &'static [&'static str] {
    match category {
        "subscriptions" => &[
            "NETFLIX.COM",
            "SPOTIFY",
            "DISNEY PLUS",
            "APPLE.COM/BILL",
            "GOOGLE *YOUTUBE PREMIUM",
            "AMAZON PRIME",
            "HBO MAX",
            "DEEZER",
            "CANAL+",
            "DAZN",
            "ADOBE *CREATIVE CLOUD",
            "MICROSOFT*365",
            "DROPBOX",
            "PARAMOUNT+",
            "CRUNCHYROLL",
            "GLOBOPLAY",
            "PATREON",
            "OPENAI *CHATGPT",
            "AUDIBLE",
            "KINDLE UNLIMITED",
            "XBOX GAME PASS",
            "PLAYSTATION NETWORK",
            "NINTENDO ESHOP",
            "TWITCH",
            "NYTIMES DIGITAL",
            "THE GUARDIAN",
            "LE MONDE ABONNEMENT",
            "SPIEGEL+",
            "EL PAIS SUSCRIPCION",
            "FOLHA DE S.PAULO",
            "DUOLINGO",
            "HEADSPACE",
            "TINDER",
            "LINKEDIN PREMIUM",
            "NOTION LABS",
            "GITHUB",
            "MUBI",
            "STARZPLAY",
            "APPLE TV+",
            "MAX STREAMING",
            "TIDAL",
            "SKY TICKET",
            "RTL+",
            "MOLOTOV TV",
            "FILMIN",
            "CLARO VIDEO",
            "VIX PREMIUM",
            "ZOOM.US",
            "CANVA",
            "ICLOUD STORAGE",
        ],
        "transport" => &[
            "UBER *TRIP",
            "LYFT *RIDE",
            "99APP *99POP",
            "CABIFY",
            "BOLT.EU",
            "FREENOW",
            "BLABLACAR",
            "LIME*RIDE",
            "TIER MOBILITY",
            "VOI TECHNOLOGY",
            "DIDI",
            "INDRIVER",
            "GETAROUND",
            "SHARE NOW",
            "CITI BIKE",
            "EZPASS",
            "SEM PARAR",
            "CONECTCAR",
            "TFL TRAVEL CH",
            "RENFE",
            "SNCF CONNECT",
            "DB VERTRIEB",
            "TRENITALIA",
            "AMTRAK",
        ],
        "travel" => &[
            "LATAM AIRLINES",
            "GOL LINHAS AEREAS",
            "AZUL LINHAS AEREAS",
            "TAP AIR PORTUGAL",
            "IBERIA",
            "VUELING",
            "AIR FRANCE",
            "LUFTHANSA",
            "BRITISH AIRWAYS",
            "RYANAIR",
            "EASYJET",
            "DELTA AIR LINES",
            "UNITED AIRLINES",
            "AMERICAN AIRLINES",
            "AVIANCA",
            "AEROMEXICO",
            "KLM",
            "EUROWINGS",
            "TRANSAVIA",
            "JETBLUE",
            "SOUTHWEST AIRLINES",
            "QANTAS",
            "AIR CANADA",
            "VOLARIS",
            "JETSMART",
            "AEROLINEAS ARGENTINAS",
            "SWISS INTL AIR",
            "AUSTRIAN AIRLINES",
            "BRUSSELS AIRLINES",
            "AIR EUROPA",
            "BOOKING.COM",
            "AIRBNB",
            "EXPEDIA",
            "HOTELS.COM",
            "DECOLAR",
            "TRIVAGO",
            "EDREAMS",
            "OPODO",
            "LASTMINUTE.COM",
            "KAYAK",
            "123MILHAS",
            "DESPEGAR",
        ],
        "utilities" => &[
            "ENEL",
            "SABESP",
            "CEMIG",
            "LIGHT SA",
            "COPEL",
            "COMGAS",
            "CPFL ENERGIA",
            "EDF",
            "ENGIE",
            "TOTALENERGIES ELECTRICITE",
            "IBERDROLA",
            "ENDESA",
            "NATURGY",
            "CANAL DE ISABEL II",
            "E.ON",
            "VATTENFALL",
            "STADTWERKE",
            "BRITISH GAS",
            "OCTOPUS ENERGY",
            "THAMES WATER",
            "EDF ENERGY",
            "CON EDISON",
            "PG&E",
            "DUKE ENERGY",
            "SOUTHERN CALIFORNIA EDISON",
            "VEOLIA EAU",
            "SUEZ EAU",
            "AGUAS ANDINAS",
            "EPM",
            "CFE",
            "EDESUR",
            "EPAL",
            "EDP COMERCIAL",
            "WIEN ENERGIE",
            "HYDRO ONE",
            "ORIGIN ENERGY",
            "AGL ENERGY",
            "ENBW",
            "RWE",
            "ELECTRIC IRELAND",
            "SSE ENERGY",
            // Gas and power companies whose names say gas, energy or power as fuel stations'
            // do: without them `gas` meant fuel in every training line, and a held-out
            // utility (`DD BRITISH GAS`) went to fuel at p 0.98. The 32 utilities of
            // `benches/data/utilities_probe.csv` measure what these teach: none of them may
            // join this list.
            "NICOR GAS",
            "PEOPLES GAS",
            "COLUMBIA GAS",
            "SOUTHWEST GAS",
            "ATMOS ENERGY",
            "CENTERPOINT ENERGY",
            "DOMINION ENERGY",
            "DTE ENERGY",
            "CONSUMERS ENERGY",
            "GEORGIA POWER",
            "FLORIDA POWER & LIGHT",
            "EVERSOURCE",
            "AMEREN",
            "AMERICAN WATER",
            "SCOTTISHPOWER",
            "SHELL ENERGY RETAIL",
            "SEVERN TRENT",
            "UNITED UTILITIES",
            "ANGLIAN WATER",
            "UISCE EIREANN",
            "GASAG",
            "MAINOVA",
            "N-ERGIE",
            "EWE AG",
            "GAZ DE BORDEAUX",
            "EAU DE PARIS",
            "REPSOL LUZ Y GAS",
            "AGUAS DE VALENCIA",
            "ENI PLENITUDE",
            "A2A ENERGIA",
            "HERA COMM",
            "ITALGAS",
            "GALP ENERGIA",
            "ULTRAGAZ",
            "LIQUIGAS",
            "COPASA",
            "SANEPAR",
            "NEOENERGIA",
            "ENERGYAUSTRALIA",
            "SYDNEY WATER",
            "ALINTA ENERGY",
            "ENBRIDGE GAS",
            "FORTISBC",
            "BC HYDRO",
            "HYDRO-QUEBEC",
        ],
        "shopping" => &[
            "AMAZON MKTPLACE",
            "AMZN MKTP US",
            "AMAZON.COM.BR",
            "AMAZON.DE",
            "AMAZON EU SARL",
            "AMAZON.CO.UK",
            "AMAZON.FR",
            "AMAZON.ES",
            "MERCADOLIVRE",
            "MERCADOLIBRE",
            "MERCADOPAGO *MERCADOLIVRE",
            "SHOPEE",
            "ALIEXPRESS",
            "SHEIN",
            "TEMU.COM",
            "EBAY",
            "ETSY",
            "ZALANDO",
            "ASOS",
            "ABOUT YOU",
            "AMERICANAS.COM",
            "MAGALU",
            "CASASBAHIA.COM",
            "SUBMARINO",
            "NETSHOES",
            "CENTAURO.COM",
            "DAFITI",
            "RIACHUELO.COM",
            "KABUM",
            "PICHAU",
            "FASTSHOP",
            "CDISCOUNT",
            "FNAC.COM",
            "OTTO",
            "BOL.COM",
            "ALLEGRO",
            "WALMART.COM",
            "TARGET.COM",
            "BEST BUY",
            "APPLE STORE",
            "WISH.COM",
            "VINTED",
            "LEBONCOIN",
            "WALLAPOP",
            "ENJOEI",
            "ESTANTE VIRTUAL",
            "BOOK DEPOSITORY",
            "PETZ.COM",
            "COBASI",
            "CHEWY.COM",
            "ZOOPLUS",
            "BELEZA NA WEB",
            "SEPHORA.COM",
            "NOTINO",
            "IKEA.COM",
            "WAYFAIR",
            "LEROY MERLIN.COM",
            "TOK&STOK",
        ],
        "restaurants" => &[
            "IFD*IFOOD",
            "IFOOD",
            "RAPPI",
            "UBER EATS",
            "UBER *EATS",
            "DELIVEROO",
            "JUST EAT",
            "JUSTEAT.CO.UK",
            "DOORDASH",
            "GRUBHUB",
            "POSTMATES",
            "GLOVO",
            "LIEFERANDO",
            "THUISBEZORGD",
            "WOLT",
            "PEDIDOSYA",
            "DIDI FOOD",
            "AIQFOME",
            "FOODPANDA",
            "MENULOG",
            "SKIPTHEDISHES",
        ],
        "health" => &[
            "FLEURY",
            "DASA",
            "HERMES PARDINI",
            "LAVOISIER",
            "DR CONSULTA",
            "BUPA",
            "QUEST DIAGNOSTICS",
            "LABCORP",
            "ZOCDOC",
            "DOCTOLIB",
        ],
        // A premium is insurance, whatever it covers: health plans (`UNIMED`, `AETNA`) too;
        // the care itself is health. The index has most European and US insurers
        // (`office=insurance`); these are the big ones it lacks.
        "insurance" => &[
            "UNIMED",
            "AMIL",
            "BRADESCO SAUDE",
            "SULAMERICA SAUDE",
            "HAPVIDA",
            "NOTREDAME INTERMEDICA",
            "PORTO SEGURO",
            "BRADESCO SEGUROS",
            "ODONTOPREV",
            "KAISER PERMANENTE",
            "CIGNA",
            "AETNA",
            "BLUE CROSS",
            "ADESLAS",
            "SANITAS SEGUROS",
            "DIRECT LINE",
            "HASTINGS DIRECT",
            "OUTSURANCE",
            "DISCOVERY INSURE",
            "SANLAM",
            "MOMENTUM",
        ],
        "telecom" => &[
            "VIVO",
            "CLARO",
            "TIM BRASIL",
            "OI FIXO",
            "NET SERVICOS",
            "SKY BRASIL",
            "VODAFONE",
            "ORANGE",
            "SFR",
            "BOUYGUES TELECOM",
            "FREE MOBILE",
            "MOVISTAR",
            "DEUTSCHE TELEKOM",
            "TELEKOM DEUTSCHLAND",
            "O2",
            "1&1 TELECOM",
            "BT GROUP",
            "EE LIMITED",
            "VIRGIN MEDIA",
            "VERIZON WIRELESS",
            "AT&T",
            "T-MOBILE",
            "COMCAST XFINITY",
            "SPECTRUM",
            "MASMOVIL",
            "YOIGO",
            "DIGI MOBIL",
            "TELCEL",
            "TELMEX",
            "PERSONAL FLOW",
            "ENTEL",
            "PROXIMUS",
            "A1 TELEKOM",
            "SWISSCOM",
            "ROGERS",
            "BELL CANADA",
            "TELSTRA",
            "OPTUS",
            "MEO",
            "NOS COMUNICACOES",
        ],
        _ => &[],
    }
}
