string_enum! {
    /// What a user may do: admins own templates, users and settings; BDRs work their own campaigns.
    Role { Admin => "admin", Bdr => "bdr" }
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Bdr => "BDR",
        }
    }
}
