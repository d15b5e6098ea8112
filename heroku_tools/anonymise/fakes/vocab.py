"""Word lists for the fakes, as bytes (ASCII only, no tab, newline or backslash)."""

FIRST_NAMES = b"""
Aaron Abigail Adam Adrian Aisha Alan Albert Alex Alice Alicia Amanda Amelia Amir Amy Andrea Andrew Angela Anna
Anthony Arthur Ava Barbara Ben Benjamin Beth Bianca Bradley Brian Bruno Caleb Camila Carl Carlos Caroline Carmen
Charles Charlotte Chen Chloe Chris Claire Clara Colin Connor Craig Daisy Daniel Daria David Deborah Dennis Diana
Diego Dylan Edward Eleanor Elena Eli Elijah Elizabeth Ella Emily Emma Eric Erin Ethan Eva Evan Fatima Felix Fiona
Florence Frank Freya Gabriel George Georgia Grace Graham Hannah Harry Hassan Hazel Helen Henry Holly Hugo Ian Imogen
Isaac Isabel Isla Ivan Jack Jacob James Jane Jasmine Jason Jeremy Jessica Joan John Jonah Jordan Joseph Joshua Julia
Julian Karen Kate Keith Kevin Kim Laura Layla Leah Leo Liam Lily Linda Lucas Lucy Luis Luke Maria Mark Martha Martin
Mary Matthew Maya Megan Mei Mia Michael Michelle Mila Mohammed Molly Nadia Naomi Nathan Neil Nicole Nina Noah Nora
Oliver Olivia Omar Oscar Owen Paige Patricia Patrick Paul Peter Philip Phoebe Priya Rachel Rafael Rahul Rebecca Rhys
Richard Robert Rosa Rose Ruby Ryan Sam Samuel Sara Sarah Scott Sean Sebastian Sofia Sophie Stella Stephen Steven
Susan Tariq Theo Thomas Tim Tobias Tom Tyler Valentina Victor Victoria Vincent Violet William Willow Xavier Yara
Yusuf Zachary Zara Zoe Ada Agnes Alfie Anya Archie Aria Ayla Bella Bobby Cara Dara Edith Elsie Ezra Finn Harvey
Iris Ivy Jude Kai Lena Leon Lola Louis Mabel Max Nell Otis Quinn Reuben Ruth Seth Sienna Teddy Vera Wren
""".split()

LAST_NAMES = b"""
Abbott Adams Ahmed Ali Allen Anderson Andrews Armstrong Atkinson Bailey Baker Ball Banks Barker Barnes Bell Bennett
Berry Bishop Black Blake Bolton Booth Bradley Brooks Brown Burke Burns Butler Campbell Carter Chambers Chapman Clark
Clarke Cole Collins Cook Cooper Cox Cross Davies Davis Dawson Dean Dixon Doyle Duncan Edwards Elliott Ellis Evans
Fisher Fleming Fletcher Ford Foster Fox Francis Fraser Gardner Garcia Gibson Gill Gordon Graham Grant Gray Green
Griffiths Hall Hamilton Harper Harris Harrison Hart Harvey Hawkins Hayes Henderson Hill Holmes Hopkins Howard Hudson
Hughes Hunt Hunter Jackson James Jenkins Johnson Johnston Jones Jordan Kaur Kelly Kennedy Khan King Knight Lambert
Lane Lawrence Lee Lewis Lloyd Lopez Marshall Martin Mason Matthews Mills Mitchell Moore Morgan Morris Murphy Murray
Nelson Newman Nguyen Nicholson Owen Palmer Parker Patel Payne Pearce Perry Phillips Porter Powell Price Reed Reid
Reynolds Richards Richardson Riley Roberts Robertson Robinson Rogers Rose Ross Russell Ryan Saunders Scott Shaw
Silva Simpson Singh Smith Spencer Stevens Stewart Stone Sutton Taylor Thomas Thompson Turner Walker Wallace Walsh
Ward Watson Webb Wells West White Wilkinson Williams Wilson Wood Woods Wright Young Zhang Moreno Rossi Novak Kowalski
Becker Weber Dubois Laurent Ivanova Petrov Tanaka Sato Kim Park Okafor Mensah Haddad Costa Pereira Santos Rahman
""".split()

STREETS = b"""
Acacia Alder Ash Aspen Beech Birch Bramble Cedar Chestnut Clover Elm Fern Hawthorn Hazel Heather Holly Juniper
Larch Laurel Linden Maple Meadow Mill Oak Orchard Pine Poplar Rowan Spruce Station Willow Church Park Victoria
Bridge Castle Harbour King Queen River Sycamore Walnut Yew Windmill Brook Field Forest Garden Glen Hill Lake
""".split()

STREET_SUFFIXES = b"Road Street Avenue Lane Close Drive Way Crescent Grove Place Gardens Terrace Row Court".split()

CITIES = b"""
Springfield Riverton Fairview Kingsport Ashford Brookfield Clearwater Dunmore Eastwood Fernhill Glenbrook Harrow
Highbury Ironbridge Kelso Lakeside Marston Newbury Oakham Pembury Queensbury Redhill Stanton Thornbury Upton
Westbury Whitby Yarmouth Alderley Bramford Caldwell Dalton Elmstead Foxley Greystone Hollins Kirkby Longford
Milford Northam Oxley Portland Rockford Sandford Tilford Wexley
""".split()

COMPANY_SUFFIXES = [b"Ltd", b"Limited", b"PLC", b"Holdings", b"Group", b"Partners", b"Trading", b"Services",
                    b"Consulting", b"Industries", b"& Co"]

LOREM = b"""
lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna
aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat duis aute
irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non
proident sunt culpa qui officia deserunt mollit anim id est laborum at vero eos accusamus iusto odio dignissimos
ducimus blanditiis praesentium voluptatum deleniti atque corrupti quos dolores quas molestias excepturi obcaecati
cupiditate provident similique mollitia animi
""".split()
